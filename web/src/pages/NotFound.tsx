import { Link } from "react-router-dom";
import { useTitle } from "../components/common";

export function NotFoundPage() {
  useTitle("Not found");
  return (
    <div className="narrow">
      <h1>Lost in the dungeon</h1>
      <p>This page does not exist.</p>
      <p>
        <Link to="/">Back to the entrance</Link>
      </p>
    </div>
  );
}
