import { memo } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

interface MdNode {
  type: string;
  children?: MdNode[];
}

/**
 * Shows raw HTML from the text as the literal text it is (an agent explaining `<div>` should be
 * read, not dropped, and never interpreted).
 */
function remarkHtmlAsText() {
  const walk = (node: MdNode) => {
    if (node.type === "html") node.type = "text";
    node.children?.forEach(walk);
  };
  return (tree: MdNode) => walk(tree);
}

const remarkPlugins = [remarkGfm, remarkHtmlAsText];

const components: Components = {
  a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noreferrer noopener" />,
  // Tables from the agent can be wide; let them scroll instead of breaking the layout.
  table: ({ node: _node, ...props }) => (
    <div className="markdown__table">
      <table {...props} />
    </div>
  ),
};

/**
 * Renders agent or user text as GitHub-flavoured markdown into React elements. Raw HTML in the
 * text is shown as text, never injected, and `react-markdown` rewrites unsafe link targets such as
 * `javascript:` URLs.
 */
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={remarkPlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
