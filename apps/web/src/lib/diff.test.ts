import { describe, expect, it } from "vitest";
import { parseUnifiedDiff } from "./diff";

const DIFF = `diff --git a/src/app.ts b/src/app.ts
index 1111111..2222222 100644
--- a/src/app.ts
+++ b/src/app.ts
@@ -1,3 +1,3 @@
 import x from "x";
-const a = 1;
+const a = 2;
 export { a };
\\ No newline at end of file
diff --git a/NEW.md b/NEW.md
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/NEW.md
@@ -0,0 +1,2 @@
+# New
+text
diff --git a/old.txt b/old.txt
deleted file mode 100644
index 4444444..0000000
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..5555555
Binary files /dev/null and b/logo.png differ
`;

describe("parseUnifiedDiff", () => {
  it("splits files, classifies changes and numbers lines", () => {
    const files = parseUnifiedDiff(DIFF);
    expect(files.map((f) => [f.path, f.change, f.additions, f.deletions])).toEqual([
      ["src/app.ts", "modified", 1, 1],
      ["NEW.md", "added", 2, 0],
      ["old.txt", "deleted", 0, 1],
      ["logo.png", "added", 0, 0],
    ]);
    expect(files[0]!.lines).toEqual([
      { kind: "hunk", header: "@@ -1,3 +1,3 @@" },
      { kind: "context", oldNumber: 1, newNumber: 1, text: 'import x from "x";' },
      { kind: "del", oldNumber: 2, text: "const a = 1;" },
      { kind: "add", newNumber: 2, text: "const a = 2;" },
      { kind: "context", oldNumber: 3, newNumber: 3, text: "export { a };" },
    ]);
    expect(files[3]!.binary).toBe(true);
  });

  it("recognises renames", () => {
    const files = parseUnifiedDiff(`diff --git a/a.ts b/b.ts
similarity index 90%
rename from a.ts
rename to b.ts
--- a/a.ts
+++ b/b.ts
@@ -1 +1 @@
-x
+y
`);
    expect(files[0]).toMatchObject({ path: "b.ts", oldPath: "a.ts", change: "renamed" });
  });

  it("returns nothing for an empty diff", () => {
    expect(parseUnifiedDiff(undefined)).toEqual([]);
    expect(parseUnifiedDiff("  \n")).toEqual([]);
  });
});
