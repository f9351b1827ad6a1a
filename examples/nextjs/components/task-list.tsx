import { useEffect, useRef } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import type { Task } from "@/lib/tasks";

export type TaskListState = { tasks: Task[]; loading: boolean; error: string | null; refreshes: number };

/** The todo app's task list beside the chat; refreshed when the assistant changes a task (`tasks.changed`); the
 * `highlighted` task (a task link clicked in the chat) is marked and scrolled into view. */
export function TaskList({
  state,
  onRefresh,
  highlighted = null,
}: {
  state: TaskListState;
  onRefresh: () => void;
  highlighted?: number | null;
}) {
  const { tasks, loading, error, refreshes } = state;
  const list = useRef<HTMLUListElement>(null);
  useEffect(() => {
    if (highlighted === null) return;
    list.current?.querySelector(`[data-task-id="${highlighted}"]`)?.scrollIntoView({ block: "nearest" });
  }, [highlighted, tasks]);
  const open = tasks.filter((task) => !task.completed).length;
  return (
    <Card data-testid="task-list" data-refreshes={refreshes} aria-busy={loading} className="h-full">
      <CardHeader className="flex-row items-start justify-between gap-2">
        <div className="flex flex-col gap-1.5">
          <CardTitle>Tasks</CardTitle>
          <CardDescription>{tasks.length ? `${open} to do, ${tasks.length - open} done` : "No tasks yet."}</CardDescription>
        </div>
        <Button variant="outline" size="sm" onClick={onRefresh} disabled={loading}>
          Refresh
        </Button>
      </CardHeader>
      <CardContent className="flex min-h-0 flex-col gap-2 overflow-y-auto">
        {error ? (
          <p role="alert" className="text-sm text-destructive">
            {error}
          </p>
        ) : null}
        <ul ref={list} className="flex flex-col gap-1.5">
          {tasks.map((task) => (
            <li
              key={task.id}
              data-task-id={task.id}
              data-completed={task.completed}
              data-highlighted={task.id === highlighted}
              aria-current={task.id === highlighted ? "true" : undefined}
              className="flex items-center justify-between gap-2 rounded-md border px-3 py-2 text-sm data-[highlighted=true]:border-accent data-[highlighted=true]:ring-2 data-[highlighted=true]:ring-accent"
            >
              <span className={task.completed ? "text-muted-foreground line-through" : undefined}>{task.title}</span>
              <Badge variant={task.completed ? "secondary" : "default"}>{task.completed ? "Done" : "To do"}</Badge>
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}
