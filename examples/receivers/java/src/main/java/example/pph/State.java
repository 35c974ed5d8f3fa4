package example.pph;

/* What the receiver has handled and how far it has read the feed, in a folder of small files:
 * `seen` (one webhook-id or disclosure id a line, appended and synced to disk), `inbox` (each
 * handled disclosure, a JSON line) and `feed-position` (replaced atomically). */

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;

final class State {
    private final Path seenFile;
    private final Path inboxFile;
    private final Path positionFile;
    private final Set<String> seen = new HashSet<>();

    State(Path folder) throws IOException {
        Files.createDirectories(folder);
        seenFile = folder.resolve("seen");
        inboxFile = folder.resolve("inbox");
        positionFile = folder.resolve("feed-position");
        if (Files.exists(seenFile)) {
            for (String line : Files.readAllLines(seenFile, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    seen.add(line.strip());
                }
            }
        }
    }

    boolean seen(String messageId) {
        return seen.contains(messageId);
    }

    void markSeen(String... messageIds) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (String messageId : messageIds) {
            if (seen.add(messageId)) {
                lines.append(messageId).append('\n');
            }
        }
        append(seenFile, lines.toString());
    }

    void store(String disclosureId, String eventType, String notification) throws IOException {
        append(inboxFile, "{\"disclosure_id\":\"" + disclosureId + "\",\"event_type\":\""
                + eventType + "\",\"notification\":" + notification + "}\n");
    }

    long feedPosition() throws IOException {
        return Files.exists(positionFile) ? Long.parseLong(Files.readString(positionFile).strip()) : 0;
    }

    void saveFeedPosition(long after) throws IOException {
        Path next = positionFile.resolveSibling("feed-position.next");
        Files.writeString(next, Long.toString(after), StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.SYNC);
        Files.move(next, positionFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static void append(Path file, String text) throws IOException {
        if (!text.isEmpty()) {
            Files.writeString(file, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND, StandardOpenOption.SYNC);
        }
    }
}
