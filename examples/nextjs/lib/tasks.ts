// The user's tasks, as the page beside the chat shows them and as the composer's @-mentions offer them.
//
// Where they come from is one injectable `TaskApi`. In this example it is the chat function's owner-checked task
// search, `GET {TODO_CHAT_FUNCTION_URL}/api/{user_id}/tasks/search?q=&limit=&cursor=` (an empty `q` is every task,
// paged by id), reached through this app's pass-through route with the chat token, so the browser only talks to
// this origin. A todo app that has its own task API (it owns the tasks, the assistant only changes them through MCP
// tools) passes its own `TaskApi` to <TodoChat> instead; nothing else changes.
import type { Entity, Widgets } from "@openai/chatkit";

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
    interactive: true, // a tag in a sent message highlights and previews its task, like the answers' task links
    data: { task_id: String(task.id) },
  };
}

/** `entities.onTagSearch`: what the composer offers after "@". */
export async function tagSearch(api: TaskApi, query: string): Promise<Entity[]> {
  return (await api.search(query, 10)).map(taskEntity);
}

/** The task an entity names: a tag's or a task link's `data.task_id` (the backend's links carry it as a number),
 * else the id `task-<id>` / `task_<id>`; null for any other entity. */
export function taskIdOf(entity: Pick<Entity, "id" | "data">): number | null {
  const raw: unknown = entity.data?.task_id ?? /^task[-_](\d+)$/.exec(entity.id)?.[1];
  const id = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/** One task by id, fetched now: searched by its title (one page), else found in the whole list. */
export async function findTask(api: TaskApi, id: number, title?: string): Promise<Task | null> {
  const byTitle = title?.trim() ? await api.search(title, 50) : [];
  return byTitle.find((task) => task.id === id) ?? (await api.list()).find((task) => task.id === id) ?? null;
}

/** `entities.onRequestPreview`: a card with the task's title and status, or says it no longer exists. */
export function taskPreview(task: Task | null, id: number): Widgets.BasicRoot {
  if (!task) {
    return {
      type: "Basic",
      direction: "col",
      gap: 1,
      children: [{ type: "Text", value: `Task #${id} no longer exists.`, color: "secondary" }],
    };
  }
  return {
    type: "Basic",
    direction: "col",
    gap: 2,
    children: [
      { type: "Title", value: task.title, size: "sm" },
      {
        type: "Row",
        gap: 2,
        children: [
          { type: "Badge", label: task.completed ? "Done" : "To do", color: task.completed ? "success" : "info" },
          { type: "Caption", value: `Task #${task.id}`, color: "secondary" },
        ],
      },
    ],
  };
}
