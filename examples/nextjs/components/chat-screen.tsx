"use client";

import { useRouter } from "next/navigation";
import { SiteHeader } from "@/components/site-header";
import { TodoChat } from "@/components/todo-chat";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardFooter, CardHeader, CardTitle } from "@/components/ui/card";
import { signOut, useSession } from "@/lib/auth-client";
import { clearChatSession } from "@/lib/chat-session";
import type { ChatConfig } from "@/lib/config";

/** The chat page: the header (who is signed in, Sign out, the theme), then the chat, or a card asking to sign in. */
export function ChatScreen({ config }: { config: ChatConfig }) {
  const { data: auth, isPending } = useSession();
  const router = useRouter();
  const user = auth?.user;
  return (
    <div className="flex min-h-screen flex-col">
      <SiteHeader>
        {user ? (
          <>
            <span data-testid="signed-in-as" className="hidden text-sm text-muted-foreground sm:inline">
              {user.name || user.email || user.id}
            </span>
            <Button
              variant="outline"
              size="sm"
              onClick={async () => {
                clearChatSession();
                await signOut();
                router.push("/sign-in?next=/dashboard/chat");
              }}
            >
              Sign out
            </Button>
          </>
        ) : null}
      </SiteHeader>
      <main className="flex flex-1 flex-col p-4 sm:p-6">
        {isPending ? null : user ? <TodoChat userId={user.id} config={config} /> : <SignedOut />}
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
