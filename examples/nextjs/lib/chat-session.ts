// A chat token for the chat function, from the session function, renewed a minute before it expires.
// The cached token belongs to the user it was minted for: asking for another user (sign-out, then sign-in as
// someone else in the same tab) never hands back the previous user's token.
import { authClient } from "@/lib/auth-client"; // your Better Auth client (jwt plugin enabled)

export type ChatSession = {
  token: string;
  expires_at: string;
  chatkit_url: string;
  chat_url: string;
  user_id: string;
  conversation_id?: string;
  dictation: boolean; // the chat function can transcribe: offer ChatKit's dictation (`composer.dictation`)
};

// The HTTP API (the stack's HttpApiUrl); unset: this origin (an app that routes /api/{user}/chatkit/session itself).
const API = process.env.NEXT_PUBLIC_TODO_CHAT_API ?? "";
const RENEW_BEFORE_MS = 60_000;
let current: ChatSession | null = null;
const pending = new Map<string, Promise<ChatSession>>();

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
  const session = (await response.json()) as ChatSession;
  if (session.user_id !== userId) throw new Error("The chat token was minted for another user");
  return session;
}

export async function chatSession(userId: string): Promise<ChatSession> {
  const cached = current;
  if (cached && cached.user_id === userId && Date.parse(cached.expires_at) - Date.now() > RENEW_BEFORE_MS) {
    return cached;
  }
  let request = pending.get(userId);
  if (!request) {
    request = fetchSession(userId).finally(() => pending.delete(userId));
    pending.set(userId, request);
  }
  const session = await request;
  current = session;
  return session;
}

/** Forget the cached token (call on sign-out). */
export function clearChatSession(): void {
  current = null;
  pending.clear();
}
