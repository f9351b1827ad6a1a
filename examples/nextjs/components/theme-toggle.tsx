"use client";

import { useTheme } from "next-themes";
import { useSyncExternalStore } from "react";
import { ToggleGroup, ToggleGroupItem } from "@/components/ui/toggle-group";

const CHOICES = [
  { value: "light", label: "Light", icon: <path d="M12 4V2m0 20v-2m8-8h2M2 12h2m13.7-5.7 1.4-1.4M4.9 19.1l1.4-1.4m11.4 0 1.4 1.4M4.9 4.9l1.4 1.4M12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8Z" /> },
  { value: "dark", label: "Dark", icon: <path d="M20.5 14.5A8.5 8.5 0 0 1 9.5 3.5a8.5 8.5 0 1 0 11 11Z" /> },
  { value: "system", label: "System", icon: <path d="M4 5h16v11H4zM9 20h6m-3-4v4" /> },
] as const;

const subscribe = () => () => {};

/** Light, dark or the system's: a Radix toggle group (one pressed item, arrow keys move between them). */
export function ThemeToggle() {
  const { theme, setTheme } = useTheme();
  // The stored choice is only known in the browser: render no pressed item on the server.
  const mounted = useSyncExternalStore(subscribe, () => true, () => false);
  return (
    <ToggleGroup
      type="single"
      aria-label="Color scheme"
      data-testid="theme-toggle"
      value={mounted ? (theme ?? "system") : ""}
      onValueChange={(value) => value && setTheme(value)}
    >
      {CHOICES.map(({ value, label, icon }) => (
        <ToggleGroupItem key={value} value={value} aria-label={label} title={label}>
          <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true">
            {icon}
          </svg>
          <span className="sr-only sm:not-sr-only">{label}</span>
        </ToggleGroupItem>
      ))}
    </ToggleGroup>
  );
}
