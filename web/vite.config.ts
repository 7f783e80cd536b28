/// <reference types="vitest/config" />
// Vite (dev server, build, preview) and Vitest in one file.
//
// The app only calls relative /api/... URLs (same origin). In production the Python web tier
// (`hero-foundry web`) serves dist/ and forwards /api/* to the api; here `npm run dev` and
// `npm run preview` forward /api to HERO_FOUNDRY_API_URL (default http://127.0.0.1:8000).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const api = process.env.HERO_FOUNDRY_API_URL || "http://127.0.0.1:8000";
const proxy = { "/api": { target: api, changeOrigin: false } };

export default defineConfig({
  plugins: [react()],
  server: { host: "127.0.0.1", port: 5173, strictPort: false, proxy },
  preview: { host: "127.0.0.1", port: 4173, strictPort: false, proxy },
  build: { outDir: "dist", sourcemap: true, target: "es2022" },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    unstubGlobals: true,
    // A test waits for what it expects (findBy..., waitFor): the time limit only catches a hang,
    // never a busy machine (5 s, Vitest's default, was too short for jsdom on 2 loaded cores).
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
