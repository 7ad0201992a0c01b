import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";
import { forgetTimelines } from "../src/state/timeline-cache";

// Lazily loaded pages take a moment to import on the first render of a run.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  cleanup();
  localStorage.clear();
  sessionStorage.clear();
  forgetTimelines();
});

// jsdom does not lay out pages, so it has no scrolling API; the app only needs the calls to exist.
if (!Element.prototype.scrollIntoView) Element.prototype.scrollIntoView = () => undefined;
