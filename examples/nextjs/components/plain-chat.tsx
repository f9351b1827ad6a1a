"use client";

// The plain chat: what the page offers when ChatKit's script cannot be loaded. The same conversations, through the
// backend's own chat stream: send, the answer as it streams, a badge per tool call (Success / Failed), Stop, and
// the conversation list. The conversation shown is kept in the address (#thr_...), so a reload reopens it.
import { useCallback, useEffect, useMemo, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { conversationInAddress, showConversationInAddress } from "@/lib/address";
import type { ChatConfig } from "@/lib/config";
import { PlainChatApi, type ChatEvent, type ChatMessage, type Conversation, type ToolCall } from "@/lib/plain-chat";
import { cn } from "@/lib/utils";

const MAX_MESSAGE_CHARS = 4000;

function applyEvent(answer: ChatMessage, event: ChatEvent): ChatMessage {
  switch (event.event) {
    case "conversation":
      return { ...answer, id: event.message_id };
    case "text_delta":
      return { ...answer, content: answer.content + event.delta };
    case "tool_call_started":
    case "tool_call_finished": {
      const call: ToolCall = { call_id: event.call_id, name: event.name, status: event.status ?? "running" };
      const others = answer.tool_calls.filter((known) => known.call_id !== event.call_id);
      const at = answer.tool_calls.findIndex((known) => known.call_id === event.call_id);
      return { ...answer, tool_calls: at < 0 ? [...others, call] : answer.tool_calls.map((c, i) => (i === at ? call : c)) };
    }
    case "done":
      return { ...answer, content: event.response, status: "complete" };
    case "error":
      return {
        ...answer,
        content: event.partial_response ?? answer.content,
        status: "error",
        error_message: event.code === "stopped" ? "Stopped." : event.message,
      };
  }
}

function ToolBadge({ call }: { call: ToolCall }) {
  const label = call.status === "success" ? "Success" : call.status === "failure" ? "Failed" : "Running";
  return (
    <Badge data-testid="tool-badge" data-status={call.status} variant={call.status === "failure" ? "destructive" : "default"}>
      {call.name}: {label}
    </Badge>
  );
}

function Message({ message }: { message: ChatMessage }) {
  const mine = message.role === "user";
  return (
    <li
      data-testid="message"
      data-role={message.role}
      data-status={message.status}
      className={cn("flex flex-col gap-1.5", mine ? "items-end" : "items-start")}
    >
      {message.tool_calls.length ? (
        <div className="flex flex-wrap gap-1.5">
          {message.tool_calls.map((call) => (
            <ToolBadge key={call.call_id} call={call} />
          ))}
        </div>
      ) : null}
      <div
        className={cn(
          "max-w-[85%] whitespace-pre-wrap rounded-lg px-3 py-2 text-sm",
          mine ? "bg-accent text-accent-foreground" : "border bg-card",
        )}
      >
        {message.content || (message.status === "streaming" ? "…" : "")}
      </div>
      {message.status === "error" && message.error_message ? (
        <p className="text-xs text-muted-foreground">{message.error_message}</p>
      ) : null}
    </li>
  );
}

export function PlainChat({
  userId,
  config,
  onTasksChanged,
}: {
  userId: string;
  config: ChatConfig;
  onTasksChanged: () => void;
}) {
  const api = useMemo(() => new PlainChatApi(userId, config), [userId, config]);
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState("");
  const [answering, setAnswering] = useState<string | null>(null); // the id of the answer being written
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // A user's action: its failure is shown in words, its success clears what an earlier action showed. The list's
  // refresh in the background only ever adds a failure: it must not hide why the conversation did not open.
  const attempt = useCallback(async (work: () => Promise<void>, { clears = true } = {}) => {
    try {
      await work();
      if (clears) setError(null);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  }, []);
  const listConversations = useCallback(
    () => attempt(async () => setConversations(await api.conversations()), { clears: false }),
    [api, attempt],
  );
  const open = useCallback(
    (id: string | null) =>
      attempt(async () => {
        setCurrent(id);
        showConversationInAddress(id);
        setMessages(id ? await api.messages(id) : []);
      }),
    [api, attempt],
  );

  useEffect(() => {
    void listConversations();
    void open(conversationInAddress());
  }, [listConversations, open]);

  async function send(text: string) {
    const question: ChatMessage = { id: "", role: "user", content: text, tool_calls: [], status: "complete" };
    let answer: ChatMessage = { id: "", role: "assistant", content: "", tool_calls: [], status: "streaming" };
    setBusy(true);
    setMessages((shown) => [...shown, question, answer]);
    const show = () => setMessages((shown) => [...shown.slice(0, -1), answer]);
    try {
      const events = await api.send(text, current, crypto.randomUUID());
      for await (const event of events) {
        answer = applyEvent(answer, event);
        show();
        if (event.event === "conversation") {
          setAnswering(event.message_id);
          if (!current) {
            setCurrent(event.conversation_id);
            showConversationInAddress(event.conversation_id);
          }
        }
        if (event.event === "tool_call_finished" && event.status === "success") onTasksChanged();
      }
      setError(null);
    } catch (failure) {
      // Refused before anything was stored (too long, rate limited, ...): take the bubbles back, keep the text.
      setMessages((shown) => shown.slice(0, -2));
      setDraft(text);
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
      setAnswering(null);
      void listConversations();
    }
  }

  const tooLong = draft.length > MAX_MESSAGE_CHARS;
  return (
    <div data-testid="plain-chat" className="grid min-h-96 gap-3 md:grid-cols-[14rem_minmax(0,1fr)]">
      <nav aria-label="Conversations" className="flex flex-col gap-1.5">
        <Button variant="outline" size="sm" onClick={() => void open(null)} disabled={busy}>
          New conversation
        </Button>
        <ul className="flex flex-col gap-1">
          {conversations.map((conversation) => (
            <li key={conversation.id}>
              <button
                type="button"
                data-conversation-id={conversation.id}
                aria-current={conversation.id === current ? "true" : undefined}
                disabled={busy}
                onClick={() => void open(conversation.id)}
                className={cn(
                  "w-full truncate rounded-md px-2 py-1.5 text-left text-sm hover:bg-muted focus-visible:outline-2",
                  conversation.id === current && "bg-muted font-medium",
                )}
              >
                {conversation.title || "Untitled"}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <section aria-label="Chat" className="flex min-h-0 flex-col gap-3 rounded-xl border bg-card p-3">
        <ol aria-live="polite" className="flex min-h-64 flex-1 flex-col gap-3 overflow-y-auto">
          {messages.length === 0 ? (
            <li className="text-sm text-muted-foreground">Ask me to add, finish or find tasks: "add buy milk".</li>
          ) : (
            messages.map((message, index) => <Message key={message.id || `new-${index}`} message={message} />)
          )}
        </ol>
        {error ? (
          <p role="alert" className="text-sm text-destructive">
            {error}
          </p>
        ) : null}
        <form
          className="flex flex-col gap-1.5"
          onSubmit={(event) => {
            event.preventDefault();
            const text = draft.trim();
            if (!text || busy || tooLong) return;
            setDraft("");
            void send(text);
          }}
        >
          <div className="flex gap-2">
            <label htmlFor="plain-chat-message" className="sr-only">
              Message
            </label>
            <input
              id="plain-chat-message"
              value={draft}
              onChange={(event) => setDraft(event.target.value)}
              placeholder="Message your todo assistant"
              autoComplete="off"
              className="h-9 flex-1 rounded-md border bg-background px-3 text-sm"
            />
            {answering ? (
              <Button type="button" variant="outline" onClick={() => void attempt(() => api.stop(answering))}>
                Stop
              </Button>
            ) : (
              <Button type="submit" disabled={busy || tooLong || !draft.trim()}>
                Send
              </Button>
            )}
          </div>
          <p className={cn("text-xs", tooLong ? "text-destructive" : "text-muted-foreground")}>
            {draft.length} / {MAX_MESSAGE_CHARS} characters
          </p>
        </form>
      </section>
    </div>
  );
}
