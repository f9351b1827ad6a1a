"use client";

import { ChatKit, useChatKit } from "@openai/chatkit-react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { TaskList, type TaskListState } from "@/components/task-list";
import { useColorScheme } from "@/components/theme-provider";
import { chatSession } from "@/lib/chat-session";
import { backendTaskApi, isTasksChanged, tagSearch, type TaskApi } from "@/lib/tasks";

/** The app's accent, in both color schemes (the page's `--accent` in app/globals.css is the same color). */
export const ACCENT = "#0FFF50";

const token = (userId: string) => async () => (await chatSession(userId)).token;

export function TodoChat({ userId, tasks: injected }: { userId: string; tasks?: TaskApi }) {
  // The task list's source: the todo app's own task API when given, else the chat function's task search.
  const tasks = useMemo(() => injected ?? backendTaskApi(userId, token(userId)), [injected, userId]);
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
  // Dictation only where the chat function has a speech-to-text provider (the session says so).
  const [dictation, setDictation] = useState(false);
  useEffect(() => {
    chatSession(userId).then((session) => setDictation(session.dictation), () => setDictation(false));
  }, [userId]);

  const colorScheme = useColorScheme();
  const { control } = useChatKit({
    api: {
      // Self-hosted ChatKit: our chat function speaks the ChatKit protocol at /api/{user_id}/chatkit.
      url: `${process.env.NEXT_PUBLIC_TODO_CHAT_FUNCTION_URL}/api/${encodeURIComponent(userId)}/chatkit`,
      domainKey: process.env.NEXT_PUBLIC_CHATKIT_DOMAIN_KEY!,
      // Every ChatKit request carries a chat token, renewed before it expires.
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set("Authorization", `Bearer ${await token(userId)()}`);
        return fetch(input, { ...init, headers });
      },
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
    composer: { dictation: { enabled: dictation } },
    history: { enabled: true },
    // The server keeps feedback per item and retries from the user message before an item.
    threadItemActions: { feedback: true, retry: true },
    // "@" in the composer offers the user's tasks; a tag carries `data.task_id` to the model.
    entities: { onTagSearch: (query) => tagSearch(tasks, query), showComposerMenu: true },
    // The backend sends `tasks.changed` after every task tool call or widget action that changed a task.
    onEffect: (effect) => {
      if (isTasksChanged(effect)) refresh();
    },
    onError: ({ error }) => console.error("chat error", error),
  });

  return (
    <div className="grid flex-1 gap-4 lg:grid-cols-[minmax(0,1fr)_20rem]">
      <ChatKit
        control={control}
        data-color-scheme={colorScheme}
        className="h-[calc(100vh-7rem)] min-h-96 w-full overflow-hidden rounded-xl border"
      />
      <TaskList state={list} onRefresh={refresh} />
    </div>
  );
}
