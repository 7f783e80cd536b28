import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";
import { clearSrdCache } from "../srd";

// findBy... and waitFor wait for what the test expects; their 1 s default would fail on a busy
// machine rather than on a wrong page. A test that expects something absent uses queryBy.
configure({ asyncUtilTimeout: 30_000 });

afterEach(() => {
  cleanup();
  window.localStorage.clear();
  clearSrdCache();
});
