package example.pph;

/* A minimal webhook receiver for the Public Protection Hub, on the JDK's own HTTP server.
 *
 * It does the five things every receiver must do: verify the Standard Webhooks signature
 * (Verifier), refuse a stale timestamp (Verifier), handle each disclosure once across retries,
 * replays and restarts (State, files beside it), acknowledge each disclosure through the hub's
 * API (Hub), and at start read the feed from its saved position to catch up (catchUp). */

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

public final class Receiver {
    private final Verifier verifier;
    private final State state;
    private final Hub hub;

    Receiver(Verifier verifier, State state, Hub hub) {
        this.verifier = verifier;
        this.state = state;
        this.hub = hub;
    }

    static void log(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** A disclosure: its id, its type, and the notification with only the granted fields. */
    record Disclosure(String id, String eventType, JsonObject notification) {}

    /** The one place that knows the body's shape. Payload version 2 (Standard Webhooks):
     *  {"type", "timestamp", "data": {"disclosure", "notification"}}; version 1,
     *  {"disclosure", "notification"}, is what older subscriptions still receive. */
    static Disclosure parseWebhookBody(byte[] body) {
        JsonObject document = JsonParser.parseString(new String(body, StandardCharsets.UTF_8))
                .getAsJsonObject();
        JsonObject data = document.has("data") ? document.getAsJsonObject("data") : document;
        JsonObject disclosure = data.getAsJsonObject("disclosure");
        return new Disclosure(
                disclosure.get("id").getAsString(),
                disclosure.get("event_type").getAsString(),
                data.getAsJsonObject("notification"));
    }

    /** Take the disclosure into the agency's system (here: the inbox file), then acknowledge
     *  it. Both are idempotent, so doing them again after a crash is harmless. */
    private void handle(Disclosure disclosure, String via) throws IOException, InterruptedException {
        state.store(disclosure.id(), disclosure.eventType(), disclosure.notification().toString());
        hub.acknowledge(disclosure.id());
        log("processed disclosure=" + disclosure.id() + " type=" + disclosure.eventType()
                + " via=" + via);
    }

    /** "processed" or "duplicate". */
    synchronized String onWebhook(Map<String, String> headers, byte[] body, long now)
            throws IOException, InterruptedException {
        String messageId = verifier.verify(headers, body, now);
        Disclosure disclosure = parseWebhookBody(body);
        if (state.seen(messageId) || state.seen(disclosure.id())) {
            state.markSeen(messageId);
            log("duplicate webhook-id=" + messageId + " disclosure=" + disclosure.id());
            return "duplicate";
        }
        handle(disclosure, "webhook");
        // Marked only once handled and acknowledged: a failure before this is retried.
        state.markSeen(messageId, disclosure.id());
        return "processed";
    }

    /** Read the feed from the saved position, handling what no webhook brought. */
    synchronized void catchUp() throws IOException, InterruptedException {
        long start = state.feedPosition();
        long after = start;
        int fresh = 0;
        while (true) {
            JsonObject page = hub.feedPage(after);
            for (var element : page.getAsJsonArray("items")) {
                JsonObject item = element.getAsJsonObject();
                Disclosure disclosure = new Disclosure(
                        item.get("disclosure_id").getAsString(),
                        item.get("event_type").getAsString(),
                        item.getAsJsonObject("notification"));
                if (!state.seen(disclosure.id())) {
                    handle(disclosure, "feed");
                    state.markSeen(disclosure.id());
                    fresh++;
                }
                state.saveFeedPosition(item.get("seq").getAsLong());
            }
            after = page.get("next_after").getAsLong();
            if (after >= page.get("last_seq").getAsLong()) {
                break;
            }
        }
        log("caught up from the feed: " + fresh + " new, position " + start + " -> " + after);
    }

    private void serve(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("POST")) {
                answer(exchange, 405, "{\"error\":\"POST only\"}");
                return;
            }
            byte[] body = exchange.getRequestBody().readAllBytes();
            Map<String, String> headers = new java.util.HashMap<>();
            exchange.getRequestHeaders().forEach((name, values) ->
                    headers.put(name.toLowerCase(java.util.Locale.ROOT), values.get(0)));
            String messageId = headers.get("webhook-id");
            try {
                String outcome = onWebhook(headers, body, System.currentTimeMillis() / 1000);
                answer(exchange, 200, "{\"status\":\"" + outcome + "\"}");
            } catch (Verifier.Rejected rejected) {
                log("rejected webhook-id=" + messageId + " reason=" + rejected.getMessage());
                answer(exchange, 401, "{\"error\":\"signature\"}");
            } catch (RuntimeException unreadable) { // not JSON, or not a disclosure
                log("unreadable body webhook-id=" + messageId + ": " + unreadable);
                answer(exchange, 400, "{\"error\":\"not a disclosure\"}");
            } catch (IOException | InterruptedException hubError) {
                // Not acknowledged, so not marked as seen: the hub sends it again later.
                log("could not acknowledge (" + hubError + "); asking the hub to retry");
                answer(exchange, 503, "{\"error\":\"try again later\"}");
            }
        }
    }

    private static void answer(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    public static void main(String[] args) throws Exception {
        Hub hub = new Hub(env("PPH_HUB_URL", "http://127.0.0.1:8000"),
                env("PPH_CLIENT_ID", null), env("PPH_CLIENT_SECRET", null));
        List<String> publicKeys = new ArrayList<>(
                Arrays.asList(env("PPH_WEBHOOK_PUBLIC_KEYS", "").split("\\s+")));
        publicKeys.removeIf(String::isEmpty);
        if (env("PPH_FETCH_WEBHOOK_KEYS", "").equalsIgnoreCase("true")) {
            publicKeys.addAll(hub.webhookKeys());
        }
        Verifier verifier = new Verifier(env("PPH_WEBHOOK_SECRET", null), publicKeys,
                Long.parseLong(env("PPH_TIMESTAMP_TOLERANCE_SECONDS", "300")));
        Receiver receiver = new Receiver(verifier, new State(Path.of(env("PPH_STATE", "state"))), hub);
        try {
            receiver.catchUp();
        } catch (IOException error) {
            log("could not read the feed (" + error + "); will try again at the next start");
        }
        int port = Integer.parseInt(env("PPH_RECEIVER_PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/webhook", receiver::serve);
        server.start();
        log("listening on http://127.0.0.1:" + port + "/webhook");
    }
}
