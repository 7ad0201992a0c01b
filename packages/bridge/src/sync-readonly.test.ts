import { describe, expect, it } from "vitest";
import { isReadOnlyCommand } from "./sync-readonly";

describe("isReadOnlyCommand", () => {
  it("lets reading and searching through, alone or chained", () => {
    for (const command of [
      "ls",
      "ls -la src",
      "cat README.md",
      "rg -n 'TODO' src",
      "grep -rn foo . | head -20",
      "find . -name '*.ts' -type f",
      "git log --oneline -5",
      "git --no-pager show HEAD",
      "git diff HEAD~1 && git status --short",
      "wc -l src/*.ts 2>/dev/null",
      "git status 2>&1; ls",
    ]) {
      expect(isReadOnlyCommand(command), command).toBe(true);
    }
  });

  it("holds anything that writes, runs another program or is not plainly a reader", () => {
    for (const command of [
      "touch x",
      "echo hi > notes.md",
      "cat a >> b",
      "ls && rm -rf src",
      "ls; npm install",
      "find . -name '*.tmp' -delete",
      "find . -exec rm {} ;",
      "rg --pre ./evil foo",
      "sort -o out.txt in.txt",
      "git commit -m x",
      "git -c core.pager=evil log",
      "git diff --output=patch.diff",
      "cat $(echo secret)",
      "ls `pwd`",
      "sed -i s/a/b/ file",
      "FOO=1 ls",
      "ls & touch y",
      "",
      "   ",
    ]) {
      expect(isReadOnlyCommand(command), command).toBe(false);
    }
  });
});
