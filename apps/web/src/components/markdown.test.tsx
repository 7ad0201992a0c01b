import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Markdown } from "./markdown";

describe("Markdown", () => {
  it("renders GitHub-flavoured markdown", () => {
    const { container } = render(
      <Markdown text={"# Title\n\n- [x] done\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```ts\nconst a = 1;\n```"} />,
    );
    expect(container.querySelector("h1")?.textContent).toBe("Title");
    expect(container.querySelector("input[type=checkbox]")).not.toBeNull();
    expect(container.querySelector("table")).not.toBeNull();
    expect(container.querySelector("pre code")?.textContent).toContain("const a = 1;");
  });

  it("never injects raw HTML and shows it as text instead", () => {
    const { container } = render(<Markdown text={'Hello <script>alert(1)</script> <img src=x onerror="alert(2)"> <b>bold</b>'} />);
    expect(container.querySelector("script, img, b")).toBeNull();
    expect(container.textContent).toContain("<script>");
    expect(container.textContent).toContain("<b>bold</b>");
  });

  it("neutralises javascript: links and opens others in a new tab", () => {
    const { container } = render(<Markdown text={"[bad](javascript:alert(1)) [good](https://example.com)"} />);
    const [bad, good] = [...container.querySelectorAll("a")];
    expect(bad?.getAttribute("href") ?? "").not.toContain("javascript");
    expect(good?.getAttribute("href")).toBe("https://example.com");
    expect(good?.getAttribute("rel")).toContain("noopener");
  });
});
