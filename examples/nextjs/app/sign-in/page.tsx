import { Suspense } from "react";
import { AuthForm } from "@/components/auth-form";

export default function SignInPage() {
  // useSearchParams (the `next` path) needs a Suspense boundary in a prerendered page.
  return (
    <Suspense>
      <AuthForm mode="sign-in" />
    </Suspense>
  );
}
