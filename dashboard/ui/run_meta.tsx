/**
 * A run's metadata on its page: name, tags, note, archive and delete, saved to the run's
 * sidecar through the API (`PATCH /api/runs/:id/meta`, `DELETE /api/runs/:id`, sent with the
 * page's token), and the crashed banner with the command that resumes the run.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import {
  type DeleteResponse,
  type MetaEdit,
  type MetaResponse,
  type RunSummary,
  runUrl,
  sendJson,
} from "./api.ts";

/** The banner of a crashed run: why it is judged dead and how to resume it. */
export function CrashedBanner({ summary }: { summary: RunSummary }) {
  if (summary.status !== "crashed") return null;
  const why = summary.crashReason === "dead-process"
    ? "its training process is gone"
    : summary.crashReason === "old-heartbeat"
    ? "its heartbeat stopped"
    : "it has no heartbeat and its run file stopped changing";
  return (
    <p class="crashed" data-testid="crashed-banner">
      <b>Crashed</b>: {why}. Resume it with{" "}
      <code data-testid="resume-command">{summary.resumeCommand}</code>
    </p>
  );
}

/** The metadata editor of run `id`, starting from `summary`. */
export function RunMetaEditor({ id, summary }: { id: string; summary: RunSummary }) {
  const tags = useSignal(summary.tags);
  const name = useSignal(summary.name ?? "");
  const note = useSignal(summary.note ?? "");
  const archived = useSignal(summary.archived);
  const newTag = useSignal("");
  const message = useSignal("");
  const error = useSignal(summary.metaProblem ?? "");
  const save = async (edit: MetaEdit, what: string) => {
    try {
      const { meta } = await sendJson<MetaResponse>(runUrl(id, "/meta"), "PATCH", edit);
      tags.value = meta.tags;
      name.value = meta.name ?? "";
      note.value = meta.note ?? "";
      archived.value = meta.archived;
      error.value = "";
      message.value = `${what} saved`;
    } catch (err) {
      error.value = (err as Error).message;
      message.value = "";
    }
  };
  return (
    <section class="run-meta" data-testid="run-meta">
      <div>
        Tags:{" "}
        <span data-testid="tags">
          {tags.value.map((t) => (
            <span key={t} class="tag">
              {t}{" "}
              <button
                type="button"
                class="x"
                aria-label={`remove tag ${t}`}
                data-testid={`untag-${t}`}
                onClick={() => save({ removeTags: [t] }, "tags")}
              >
                ×
              </button>
            </span>
          ))}
        </span>{" "}
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const t = newTag.value.trim();
            if (t) save({ addTags: [t] }, "tags").then(() => (newTag.value = ""));
          }}
        >
          <input
            data-testid="tag-input"
            placeholder="add a tag"
            size={14}
            value={newTag.value}
            onInput={(e) => (newTag.value = (e.target as HTMLInputElement).value)}
          />
          <button type="submit" data-testid="add-tag">Add</button>
        </form>
      </div>
      <div>
        <label>
          Name{" "}
          <input
            data-testid="name-input"
            value={name.value}
            size={30}
            onInput={(e) => (name.value = (e.target as HTMLInputElement).value)}
          />
        </label>{" "}
        <button
          type="button"
          data-testid="save-name"
          onClick={() => save({ name: name.value.trim() || null }, "name")}
        >
          Save name
        </button>
      </div>
      <div>
        <label>
          Note
          <br />
          <textarea
            data-testid="note-input"
            rows={3}
            cols={70}
            value={note.value}
            onInput={(e) => (note.value = (e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <br />
        <button
          type="button"
          data-testid="save-note"
          onClick={() => save({ note: note.value }, "note")}
        >
          Save note
        </button>{" "}
        <button
          type="button"
          data-testid="archive"
          onClick={() =>
            save({ archived: !archived.value }, archived.value ? "unarchive" : "archive")}
        >
          {archived.value ? "Unarchive" : "Archive"}
        </button>{" "}
        <button
          type="button"
          data-testid="delete"
          disabled={summary.status === "running"}
          title={summary.status === "running"
            ? "a running run cannot be deleted"
            : "move to the trash"}
          onClick={async () => {
            if (!confirm(`Move ${id} to the trash? (deno task runs gc empties it)`)) return;
            try {
              await sendJson<DeleteResponse>(runUrl(id), "DELETE");
              location.hash = "#/";
            } catch (err) {
              error.value = (err as Error).message;
            }
          }}
        >
          Delete…
        </button>{" "}
        {archived.value && <span class="status archived">archived</span>}{" "}
        <span class="note" data-testid="meta-message">{message.value}</span>
      </div>
      {error.value && <p class="error" data-testid="meta-error">{error.value}</p>}
    </section>
  );
}
