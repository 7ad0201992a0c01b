import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(() => {
  cleanup();
  localStorage.clear();
  sessionStorage.clear();
});

// jsdom does not lay out pages, so it has no scrolling API; the app only needs the calls to exist.
if (!Element.prototype.scrollIntoView) Element.prototype.scrollIntoView = () => undefined;
