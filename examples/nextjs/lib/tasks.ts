// The user's tasks, as the page beside the chat shows them and as the composer's @-mentions offer them.
//
// Where they come from is one injectable `TaskApi`. In this example it is the chat function's owner-checked task
// search, `GET {TODO_CHAT_FUNCTION_URL}/api/{user_id}/tasks/search?q=&limit=&cursor=` (an empty `q` is every task,
// paged by id), reached through this app's pass-through route with the chat token, so the browser only talks to
// this origin. A todo app that has its own task API (it owns the tasks, the assistant only changes them through MCP
// tools) passes its own `TaskApi` to <TodoChat> instead; nothing else changes.
import type { Entity } from "@openai/chatkit";

export type Task = { id: number; title: string; completed: boolean };
export type TaskSearchPage = { items: Task[]; next_cursor?: number | null };

export interface TaskApi {
  /** Every task of the user, in id order. */
  list(): Promise<Task[]>;
  /** Tasks whose title contains `query` (any case), at most `limit`. */
  search(query: string, limit?: number): Promise<Task[]>;
}

/** What the backend's client effect after a task tool call or widget action looks like. */
export const TASKS_CHANGED = "tasks.changed";

export function isTasksChanged(effect: { name: string }): boolean {
  return effect.name === TASKS_CHANGED;
}

const PAGE = 50; // the search endpoint's largest page
const MAX_PAGES = 20;

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** The chat function's task search, through `/api/chat/{user_id}/tasks/search` (see the route handler). */
export function backendTaskApi(
  userId: string,
  token: () => Promise<string>,
  { base = "/api/chat", fetch: doFetch = (input, init) => fetch(input, init) }: { base?: string; fetch?: Fetch } = {},
): TaskApi {
  async function page(query: string, limit: number, cursor?: number): Promise<TaskSearchPage> {
    const params = new URLSearchParams({ q: query, limit: String(limit) });
    if (cursor !== undefined) params.set("cursor", String(cursor));
    const response = await doFetch(`${base}/${encodeURIComponent(userId)}/tasks/search?${params}`, {
      headers: { Authorization: `Bearer ${await token()}`, Accept: "application/json" },
      cache: "no-store",
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
      throw new Error(body?.error?.message ?? `Task search failed (${response.status})`);
    }
    return (await response.json()) as TaskSearchPage;
  }

  return {
    async list() {
      const tasks: Task[] = [];
      let cursor: number | undefined;
      for (let i = 0; i < MAX_PAGES; i++) {
        const { items, next_cursor } = await page("", PAGE, cursor);
        tasks.push(...items);
        if (next_cursor == null) break;
        cursor = next_cursor;
      }
      return tasks;
    },
    async search(query, limit = 10) {
      return (await page(query.trim(), Math.min(Math.max(limit, 1), PAGE))).items;
    },
  };
}

/** A task as a ChatKit entity: the composer's tag, whose `data.task_id` the backend turns into the task's id. */
export function taskEntity(task: Task): Entity {
  return {
    id: `task-${task.id}`,
    title: task.title,
    group: task.completed ? "Done" : "To do",
    interactive: false,
    data: { task_id: String(task.id) },
  };
}

/** `entities.onTagSearch`: what the composer offers after "@". */
export async function tagSearch(api: TaskApi, query: string): Promise<Entity[]> {
  return (await api.search(query, 10)).map(taskEntity);
}
