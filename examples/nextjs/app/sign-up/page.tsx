import { Suspense } from "react";
import { AuthForm } from "@/components/auth-form";

export default function SignUpPage() {
  // useSearchParams (the `next` path) needs a Suspense boundary in a prerendered page.
  return (
    <Suspense>
      <AuthForm mode="sign-up" />
    </Suspense>
  );
}
