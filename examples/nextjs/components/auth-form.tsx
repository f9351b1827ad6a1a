"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { SiteHeader } from "@/components/site-header";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardFooter, CardHeader, CardTitle } from "@/components/ui/card";
import { signIn, signUp } from "@/lib/auth-client";

type Mode = "sign-in" | "sign-up";

const TEXT: Record<Mode, { title: string; description: string; submit: string; other: string; otherLabel: string }> = {
  "sign-in": {
    title: "Sign in to chat",
    description: "Your todo assistant adds, completes and finds tasks for you.",
    submit: "Sign in",
    other: "/sign-up",
    otherLabel: "No account yet? Sign up",
  },
  "sign-up": {
    title: "Create your account",
    description: "An email and a password of 8 characters or more.",
    submit: "Sign up",
    other: "/sign-in",
    otherLabel: "Have an account? Sign in",
  },
};

/** Where to go after signing in: only a path of this site. An absolute URL, or one a browser reads as
 * protocol-relative ("//host", "/\\host"), is ignored. */
function nextPath(value: string | null): string {
  return value && value.startsWith("/") && !/^\/[/\\]/.test(value) ? value : "/dashboard/chat";
}

const FIELD = "h-9 rounded-md border bg-background px-3 text-sm";

export function AuthForm({ mode }: { mode: Mode }) {
  const router = useRouter();
  const next = nextPath(useSearchParams().get("next"));
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const text = TEXT[mode];

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    setPending(true);
    setError(null);
    const { error: failed } =
      mode === "sign-up"
        ? await signUp.email({ email, password, name: String(form.get("name") ?? "").trim() || email })
        : await signIn.email({ email, password });
    setPending(false);
    if (failed) {
      setError(failed.message || "That did not work; check the email and password.");
      return;
    }
    router.push(next);
  }

  return (
    <div className="flex min-h-screen flex-col">
      <SiteHeader />
      <main className="flex flex-1 flex-col p-4 sm:p-6">
        <Card data-testid={mode} className="mx-auto mt-16 w-full max-w-sm">
          <CardHeader>
            <CardTitle>{text.title}</CardTitle>
            <CardDescription>{text.description}</CardDescription>
          </CardHeader>
          <form onSubmit={submit} className="flex flex-col gap-4">
            <CardContent className="flex flex-col gap-3">
              {mode === "sign-up" ? (
                <label className="flex flex-col gap-1 text-sm">
                  Name
                  <input name="name" autoComplete="name" className={FIELD} />
                </label>
              ) : null}
              <label className="flex flex-col gap-1 text-sm">
                Email
                <input name="email" type="email" required autoComplete="email" className={FIELD} />
              </label>
              <label className="flex flex-col gap-1 text-sm">
                Password
                <input
                  name="password"
                  type="password"
                  required
                  minLength={8}
                  autoComplete={mode === "sign-up" ? "new-password" : "current-password"}
                  className={FIELD}
                />
              </label>
              {error ? (
                <p role="alert" className="text-sm text-destructive">
                  {error}
                </p>
              ) : null}
            </CardContent>
            <CardFooter className="flex flex-col gap-2">
              <Button type="submit" className="w-full" disabled={pending}>
                {text.submit}
              </Button>
              <a href={`${text.other}?next=${encodeURIComponent(next)}`} className="text-sm underline underline-offset-4">
                {text.otherLabel}
              </a>
            </CardFooter>
          </form>
        </Card>
      </main>
    </div>
  );
}
