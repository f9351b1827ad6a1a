import { ChatScreen } from "@/components/chat-screen";
import { chatConfig } from "@/lib/config";

// Rendered for each request: the backend's URLs are read when the server runs (lib/config.ts), not fixed at build.
export const dynamic = "force-dynamic";

export default function ChatPage() {
  return <ChatScreen config={chatConfig()} />;
}
