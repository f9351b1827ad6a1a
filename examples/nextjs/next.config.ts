import type { NextConfig } from "next";

const config: NextConfig = {
  // The chat pass-through streams Server-Sent Events: compression would buffer them.
  compress: false,
  poweredByHeader: false,
};

export default config;
