"use client";

import { SiteHeader } from "@/components/site-header";
import { TodoChat } from "@/components/todo-chat";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardFooter, CardHeader, CardTitle } from "@/components/ui/card";
import { useSession } from "@/lib/auth-client";

export default function ChatPage() {
  const { data: auth, isPending } = useSession();
  const user = auth?.user;
  return (
    <div className="flex min-h-screen flex-col">
      <SiteHeader>
        {user ? <span className="hidden text-sm text-muted-foreground sm:inline">{user.name || user.id}</span> : null}
      </SiteHeader>
      <main className="flex flex-1 flex-col p-4 sm:p-6">
        {isPending ? null : user ? <TodoChat userId={user.id} /> : <SignedOut />}
      </main>
    </div>
  );
}

function SignedOut() {
  return (
    <Card data-testid="signed-out" className="mx-auto mt-16 w-full max-w-sm">
      <CardHeader>
        <CardTitle>Sign in to chat</CardTitle>
        <CardDescription>Your todo assistant adds, completes and finds tasks for you.</CardDescription>
      </CardHeader>
      <CardContent className="text-sm text-muted-foreground">Your conversations are kept on every device.</CardContent>
      <CardFooter>
        <Button asChild className="w-full">
          <a href="/sign-in?next=/dashboard/chat">Sign in</a>
        </Button>
      </CardFooter>
    </Card>
  );
}
