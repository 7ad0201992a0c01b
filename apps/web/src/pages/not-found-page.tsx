import { Link } from "react-router";
import { EmptyState } from "../components/states";

export function NotFoundPage() {
  return (
    <div className="page">
      <EmptyState icon="🧭" title="Nothing here">
        <p>This address does not lead to a page.</p>
        <Link to="/" className="btn">
          Back to sessions
        </Link>
      </EmptyState>
    </div>
  );
}
