import type { ReactNode } from "react";
import { ThemeToggle } from "@/components/theme-toggle";

export function SiteHeader({ children }: { children?: ReactNode }) {
  return (
    <header className="flex h-16 items-center justify-between gap-4 border-b bg-card px-4 sm:px-6">
      <div className="flex items-center gap-2 font-semibold">
        <span aria-hidden="true" className="size-3 rounded-full bg-accent" />
        Todo
      </div>
      <div className="flex items-center gap-2">
        {children}
        <ThemeToggle />
      </div>
    </header>
  );
}
