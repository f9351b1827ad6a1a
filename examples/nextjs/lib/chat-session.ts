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
  /** The models this backend lets the composer pick (`CHAT_MODEL`, then `CHAT_MODELS`), its default first
   * (lib/composer.ts shows a picker when there are two or more). */
  models?: { id: string; label?: string; default?: boolean }[];
  /** Whether this backend can transcribe ChatKit's dictation; absent means it cannot. */
  dictation?: boolean;
  /** Whether this backend takes ChatKit's attachments; absent means it does not. */
  attachments?: boolean;
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

async function fetchSession(userId: string, api: string): Promise<ChatSession> {
  const response = await fetch(`${api}/api/${encodeURIComponent(userId)}/chatkit/session`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await betterAuthToken()}`, "Content-Type": "application/json" },
    body: "{}",
  });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `The chat session could not be started (${response.status}).`);
  }
  const session = (await response.json()) as ChatSession;
  if (session.user_id !== userId) throw new Error("The chat token was minted for another user");
  return session;
}

/** A chat token for `userId`; `api` is the HTTP API's URL when the page was given it at run time (lib/config.ts). */
export async function chatSession(userId: string, api: string = API): Promise<ChatSession> {
  const cached = current;
  if (cached && cached.user_id === userId && Date.parse(cached.expires_at) - Date.now() > RENEW_BEFORE_MS) {
    return cached;
  }
  let request = pending.get(userId);
  if (!request) {
    request = fetchSession(userId, api).finally(() => pending.delete(userId));
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
