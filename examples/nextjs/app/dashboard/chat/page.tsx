"use client";

import { ChatKit, useChatKit } from "@openai/chatkit-react";
import { useSession } from "@/lib/auth-client";
import { chatSession } from "@/lib/chat-session";

export default function ChatPage() {
  const { data: auth } = useSession();
  const userId = auth?.user.id;
  if (!userId) return <p>Sign in to chat with your todo assistant.</p>;
  return <TodoChat userId={userId} />;
}

function TodoChat({ userId }: { userId: string }) {
  const { control } = useChatKit({
    api: {
      // Self-hosted ChatKit: our chat function speaks the ChatKit protocol at /api/{user_id}/chatkit.
      url: `${process.env.NEXT_PUBLIC_TODO_CHAT_FUNCTION_URL}/api/${encodeURIComponent(userId)}/chatkit`,
      domainKey: process.env.NEXT_PUBLIC_CHATKIT_DOMAIN_KEY!,
      // Every ChatKit request carries a chat token, renewed before it expires.
      fetch: async (input, init) => {
        const { token } = await chatSession(userId);
        const headers = new Headers(init?.headers);
        headers.set("Authorization", `Bearer ${token}`);
        return fetch(input, { ...init, headers });
      },
    },
    theme: { colorScheme: "dark", color: { accent: { primary: "#0FFF50", level: 2 } } },
    startScreen: {
      greeting: "What should we get done?",
      prompts: [
        { label: "Add a task", prompt: "add buy milk" },
        { label: "What's left?", prompt: "show my tasks pending" },
      ],
    },
    history: { enabled: true },
    onError: ({ error }) => console.error("chat error", error),
  });

  return <ChatKit control={control} className="h-[calc(100vh-4rem)] w-full" />;
}
