import type { Metadata } from "next";
import Script from "next/script";
import type { ReactNode } from "react";
import { ThemeProvider } from "@/components/theme-provider";
import "./globals.css";

export const metadata: Metadata = { title: "Todo", description: "A todo app with an AI assistant" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    // next-themes sets the class and data-theme of <html> before React hydrates: the warning would be noise.
    <html lang="en" suppressHydrationWarning>
      <body>
        {/* The ChatKit web component that @openai/chatkit-react renders. */}
        <Script src="https://cdn.platform.openai.com/deployments/chatkit/chatkit.js" strategy="afterInteractive" />
        <ThemeProvider>{children}</ThemeProvider>
      </body>
    </html>
  );
}
