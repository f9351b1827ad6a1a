// Where the browser finds the backend, read on the server for each request, so one build runs anywhere: the
// plain names (set when the server starts) win; the NEXT_PUBLIC_ ones are the values fixed when it was built.
export type ChatConfig = {
  /** The HTTP API (the stack's HttpApiUrl): the session and history functions. Empty: this origin. */
  apiUrl: string;
  /** The chat function's URL (the stack's ChatFunctionUrl, no trailing slash). Empty: this origin. */
  chatUrl: string;
  /** The ChatKit domain key registered for this site. */
  domainKey: string;
  /** How long the page waits for ChatKit's script before it offers the plain chat. */
  chatKitWaitMs: number;
  /** Whether ChatKit's Stop is relayed (`CHAT_ABORT_RELAYED`, as the stack's `ChatAbortRelayed`): ChatKit then goes
   * through this app's pass-through route, the only place that sees the browser's abort. */
  abortRelayed: boolean;
};

const DEFAULT_CHATKIT_WAIT_MS = 4000;

function setting(name: string, builtIn: string | undefined): string {
  return (process.env[name] || builtIn || "").replace(/\/+$/, "");
}

export function chatConfig(): ChatConfig {
  const wait = Number(process.env.CHATKIT_WAIT_MS);
  return {
    apiUrl: setting("TODO_CHAT_API", process.env.NEXT_PUBLIC_TODO_CHAT_API),
    chatUrl: setting("TODO_CHAT_FUNCTION_URL", process.env.NEXT_PUBLIC_TODO_CHAT_FUNCTION_URL),
    domainKey: process.env.CHATKIT_DOMAIN_KEY || process.env.NEXT_PUBLIC_CHATKIT_DOMAIN_KEY || "",
    chatKitWaitMs: Number.isFinite(wait) && wait > 0 ? wait : DEFAULT_CHATKIT_WAIT_MS,
    abortRelayed: ["1", "true", "yes"].includes((process.env.CHAT_ABORT_RELAYED ?? "").trim().toLowerCase()),
  };
}

/** Where ChatKit sends its requests: with the abort relayed, this app's pass-through route
 * (app/api/chat/[user_id]/[...path]/route.ts), which turns the browser's Stop into a thread stop; else straight to
 * the chat function, one hop less, where a Function URL never sees the abort (so the backend offers no Stop). */
export function chatKitUrl(config: Pick<ChatConfig, "chatUrl" | "abortRelayed">, userId: string): string {
  const user = encodeURIComponent(userId);
  return config.abortRelayed ? `/api/chat/${user}/chatkit` : `${config.chatUrl}/api/${user}/chatkit`;
}
