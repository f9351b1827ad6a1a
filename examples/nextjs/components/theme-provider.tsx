"use client";

// The app's theme: the system preference until the user picks one with the toggle (kept in localStorage).
// next-themes sets `class="dark"` and `data-theme` on <html> before the first paint, so nothing flashes.
import { ThemeProvider as NextThemesProvider, useTheme } from "next-themes";
import type { ReactNode } from "react";

export function ThemeProvider({ children }: { children: ReactNode }) {
  return (
    <NextThemesProvider attribute={["class", "data-theme"]} defaultTheme="system" enableSystem disableTransitionOnChange>
      {children}
    </NextThemesProvider>
  );
}

export type ColorScheme = "light" | "dark";

/** The scheme in effect ("system" resolved), for what cannot read CSS: ChatKit's `theme.colorScheme`. */
export function useColorScheme(): ColorScheme {
  const { resolvedTheme } = useTheme();
  return resolvedTheme === "dark" ? "dark" : "light";
}
