"use client";

import { ChatKit, useChatKit } from "@openai/chatkit-react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { PlainChat } from "@/components/plain-chat";
import { TaskList, type TaskListState } from "@/components/task-list";
import { useColorScheme } from "@/components/theme-provider";
import { conversationInAddress, showConversationInAddress } from "@/lib/address";
import { chatSession, type ChatSession } from "@/lib/chat-session";
import { composerOption, searchCommands } from "@/lib/composer";
import { chatKitUrl, type ChatConfig } from "@/lib/config";
import {
  backendTaskApi,
  findTask,
  isTasksChanged,
  tagSearch,
  taskIdOf,
  taskPreview,
  type TaskApi,
} from "@/lib/tasks";

/** The app's accent, in both color schemes (the page's `--accent` in app/globals.css is the same color). */
export const ACCENT = "#0FFF50";

type ChatKitState = "loading" | "ready" | "unavailable";

/** Whether a request of ChatKit's goes to its API endpoint (relative or absolute), not to another URL. */
function sameEndpoint(input: RequestInfo | URL, endpoint: string): boolean {
  const target = typeof input === "string" || input instanceof URL ? String(input) : input.url;
  const base = typeof location === "undefined" ? "http://localhost" : location.href;
  const strip = (address: string) => {
    const parsed = new URL(address, base);
    return `${parsed.origin}${parsed.pathname}`;
  };
  return strip(target) === strip(endpoint);
}

/** Whether ChatKit's web component (loaded from OpenAI's CDN) was defined within `waitMs`. */
function useChatKitElement(waitMs: number): ChatKitState {
  const [state, setState] = useState<ChatKitState>(() =>
    typeof customElements !== "undefined" && customElements.get("openai-chatkit") ? "ready" : "loading",
  );
  useEffect(() => {
    if (state !== "loading") return;
    let settled = false;
    void customElements.whenDefined("openai-chatkit").then(() => {
      if (!settled) setState("ready");
      settled = true;
    });
    const timer = setTimeout(() => {
      if (!settled) setState("unavailable");
      settled = true;
    }, waitMs);
    return () => clearTimeout(timer);
  }, [state, waitMs]);
  return state;
}

export function TodoChat({ userId, config, tasks: injected }: { userId: string; config: ChatConfig; tasks?: TaskApi }) {
  const token = useCallback(async () => (await chatSession(userId, config.apiUrl)).token, [userId, config.apiUrl]);
  // The task list's source: the todo app's own task API when given, else the chat function's task search.
  const tasks = useMemo(() => injected ?? backendTaskApi(userId, token), [injected, userId, token]);
  const [list, setList] = useState<TaskListState>({ tasks: [], loading: true, error: null, refreshes: 0 });
  const refresh = useCallback(() => {
    setList((state) => ({ ...state, loading: true }));
    tasks.list().then(
      (found) => setList((state) => ({ tasks: found, loading: false, error: null, refreshes: state.refreshes + 1 })),
      (error: unknown) =>
        setList((state) => ({ ...state, loading: false, error: error instanceof Error ? error.message : String(error) })),
    );
  }, [tasks]);
  useEffect(refresh, [refresh]);
  // What the session function says this backend offers (models, dictation); until it answers, neither.
  const [offered, setOffered] = useState<ChatSession | null>(null);
  useEffect(() => {
    let current = true;
    chatSession(userId, config.apiUrl).then(
      (session) => current && setOffered(session),
      () => undefined, // the chat's own requests report a failed session
    );
    return () => {
      current = false;
    };
  }, [userId, config.apiUrl]);
  // The task a task link or tag was clicked for, highlighted in the list.
  const [highlighted, setHighlighted] = useState<number | null>(null);

  const colorScheme = useColorScheme();
  const [initialThread] = useState(conversationInAddress);
  // Self-hosted ChatKit: our chat function speaks the ChatKit protocol at /api/{user_id}/chatkit (or through the
  // app's pass-through route when the abort is relayed).
  const url = chatKitUrl(config, userId);
  const { control, setComposerValue } = useChatKit({
    api: {
      url,
      domainKey: config.domainKey,
      // Every ChatKit request carries a chat token, renewed before it expires; an upload to its presigned URL
      // (another host, signed in its query) carries none: S3 refuses a second credential.
      fetch: async (input, init) => {
        if (!sameEndpoint(input, url)) return fetch(input, init);
        const headers = new Headers(init?.headers);
        headers.set("Authorization", `Bearer ${await token()}`);
        return fetch(input, { ...init, headers });
      },
      // An attachment is created first (its upload target comes back), then uploaded: the chat function's
      // requests stay small, and the file goes straight to the store.
      uploadStrategy: { type: "two_phase" },
    },
    // The page's scheme (the system's, or the toggle's), with the app's accent in both.
    theme: { colorScheme, color: { accent: { primary: ACCENT, level: 2 } } },
    startScreen: {
      greeting: "What should we get done?",
      prompts: [
        { label: "Add a task", prompt: "add buy milk" },
        { label: "What's left?", prompt: "show my tasks pending" },
      ],
    },
    history: { enabled: true },
    // The conversation in the address (#thr_...) is reopened after a reload; the one shown is kept there.
    initialThread,
    onThreadChange: ({ threadId }) => showConversationInAddress(threadId),
    // The server keeps feedback per item and retries from the user message before an item.
    threadItemActions: { feedback: true, retry: true },
    // The backend's composer tools (sent as `inference_options.tool_choice`), its models, dictation and attachments
    // if offered.
    composer: composerOption(offered),
    // "/" lists the same tools; picking one selects it in the composer.
    commands: {
      enabled: true,
      onSearch: async (query) => searchCommands(query),
      onSelect: async (command) => {
        await setComposerValue({ selectedToolId: command.id });
      },
    },
    entities: {
      // "@" in the composer offers the user's tasks; a tag carries `data.task_id` to the model.
      onTagSearch: (query) => tagSearch(tasks, query),
      showComposerMenu: true,
      // A task link in an answer (or a tag in a message) highlights its task in the list...
      onClick: (entity) => setHighlighted(taskIdOf(entity)),
      // ...and previews it as it is now, fetched through the app.
      onRequestPreview: async (entity) => {
        const id = taskIdOf(entity);
        return { preview: id === null ? null : taskPreview(await findTask(tasks, id, entity.title), id) };
      },
    },
    // The backend sends `tasks.changed` after every task tool call or widget action that changed a task.
    onEffect: (effect) => {
      if (isTasksChanged(effect)) refresh();
    },
    onError: ({ error }) => console.error("chat error", error),
  });

  const chatKit = useChatKitElement(config.chatKitWaitMs);
  return (
    <div className="grid flex-1 gap-4 lg:grid-cols-[minmax(0,1fr)_20rem]">
      {chatKit === "unavailable" ? (
        // Never an empty box: without ChatKit's script the same conversations go through the plain chat.
        <div className="flex flex-col gap-3">
          <p role="status" data-testid="chatkit-unavailable" className="rounded-md border bg-card px-3 py-2 text-sm">
            The ChatKit chat window could not be loaded (its script comes from OpenAI&apos;s servers, which a network,
            a proxy or a browser extension may block). You can chat with the assistant here instead.
          </p>
          <PlainChat userId={userId} config={config} onTasksChanged={refresh} />
        </div>
      ) : (
        <ChatKit
          control={control}
          data-color-scheme={colorScheme}
          className="h-[calc(100vh-7rem)] min-h-96 w-full overflow-hidden rounded-xl border"
        />
      )}
      <TaskList state={list} onRefresh={refresh} highlighted={highlighted} />
    </div>
  );
}
