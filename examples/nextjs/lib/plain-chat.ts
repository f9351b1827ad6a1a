// The plain chat's client: the backend's own JSON/SSE chat (`POST {chat}/api/{user}/chat`), its Stop, and the
// history function's conversation and message pages. The page uses it when ChatKit's script cannot be loaded.
import { chatSession } from "@/lib/chat-session";
import type { ChatConfig } from "@/lib/config";

export type ToolCall = { call_id: string; name: string; status?: "success" | "failure" | "running" | string };
export type ChatMessage = {
  id: string;
  role: "user" | "assistant";
  content: string;
  tool_calls: ToolCall[];
  status: "streaming" | "complete" | "error";
  error_message?: string | null;
};
export type Conversation = { id: string; title: string | null; preview: string | null; updated_at: string };

/** One event of the chat stream, as the backend names it. */
export type ChatEvent =
  | { event: "conversation"; conversation_id: string; message_id: string; user_message_id: string }
  | { event: "text_delta"; delta: string }
  | { event: "tool_call_started" | "tool_call_finished"; call_id: string; name: string; status?: string }
  | { event: "done"; response: string }
  | { event: "error"; code: string; message: string; partial_response?: string };

const CONVERSATIONS_SHOWN = 20;
const MESSAGES_SHOWN = 50;

export class ChatApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads Server-Sent Events (`event:` and `data:` lines, blank-line separated) as they arrive. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ChatEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) yield { event, ...JSON.parse(data) } as ChatEvent;
    }
  }
}

export class PlainChatApi {
  constructor(
    private readonly userId: string,
    private readonly config: ChatConfig,
  ) {}

  private async call(base: string, path: string, init: RequestInit = {}): Promise<Response> {
    const { token } = await chatSession(this.userId, this.config.apiUrl);
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    const response = await fetch(`${base}/api/${encodeURIComponent(this.userId)}${path}`, { ...init, headers });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new ChatApiError(response.status, body?.error?.message ?? "The assistant cannot be reached right now.");
    }
    return response;
  }

  async conversations(): Promise<Conversation[]> {
    const page = await this.call(this.config.apiUrl, `/conversations?limit=${CONVERSATIONS_SHOWN}`);
    return ((await page.json()) as { items: Conversation[] }).items;
  }

  /** The conversation's latest messages (newest first from the server), shown oldest first. */
  async messages(conversationId: string): Promise<ChatMessage[]> {
    const path = `/conversations/${encodeURIComponent(conversationId)}/messages?limit=${MESSAGES_SHOWN}&order=desc`;
    const page = (await (await this.call(this.config.apiUrl, path)).json()) as { items: ChatMessage[] };
    return page.items.slice().reverse();
  }

  /** Sends a message and returns its answer's event stream. */
  async send(message: string, conversationId: string | null, clientMessageId: string): Promise<AsyncGenerator<ChatEvent>> {
    const response = await this.call(this.config.chatUrl, "/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ message, conversation_id: conversationId, client_message_id: clientMessageId }),
    });
    if (!response.body) throw new ChatApiError(502, "The answer did not arrive.");
    return readEvents(response.body);
  }

  /** Asks the backend to stop an answer: closing the stream alone would not (a dropped connection is no stop). */
  async stop(messageId: string): Promise<void> {
    await this.call(this.config.chatUrl, `/chat/messages/${encodeURIComponent(messageId)}/stop`, { method: "POST" });
  }
}
