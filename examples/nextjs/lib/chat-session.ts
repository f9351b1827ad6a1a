// A chat token for the chat function, from the session function, renewed a minute before it expires.
import { authClient } from "@/lib/auth-client"; // your Better Auth client (jwt plugin enabled)

type ChatSession = {
  token: string;
  expires_at: string;
  chatkit_url: string;
  chat_url: string;
  user_id: string;
  conversation_id?: string;
};

const API = process.env.NEXT_PUBLIC_TODO_CHAT_API!;
const RENEW_BEFORE_MS = 60_000;
let current: ChatSession | null = null;
let pending: Promise<ChatSession> | null = null;

async function betterAuthToken(): Promise<string> {
  const { data, error } = await authClient.token(); // Better Auth jwt plugin: GET /api/auth/token
  if (error || !data?.token) throw new Error("Not signed in");
  return data.token;
}

async function fetchSession(userId: string): Promise<ChatSession> {
  const response = await fetch(`${API}/api/${encodeURIComponent(userId)}/chatkit/session`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await betterAuthToken()}`, "Content-Type": "application/json" },
    body: "{}",
  });
  if (!response.ok) {
    const { error } = await response.json();
    throw new Error(`${error.code}: ${error.message}`);
  }
  return response.json();
}

export async function chatSession(userId: string): Promise<ChatSession> {
  const fresh = current && Date.parse(current.expires_at) - Date.now() > RENEW_BEFORE_MS;
  if (fresh) return current!;
  pending ??= fetchSession(userId).finally(() => (pending = null));
  current = await pending;
  return current;
}
