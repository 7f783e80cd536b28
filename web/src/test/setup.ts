import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";
import { clearSrdCache } from "../srd";

afterEach(() => {
  cleanup();
  window.localStorage.clear();
  clearSrdCache();
});
