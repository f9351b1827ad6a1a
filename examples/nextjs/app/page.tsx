import { redirect } from "next/navigation";

// The app is the chat page; the proxy sends a signed-out visitor on to sign in.
export default function Home(): never {
  redirect("/dashboard/chat");
}
