package example.pph;

/* The hub's API: a client-credentials token (fetched when needed), acknowledgements, the feed
 * and the published webhook keys. A failed request is an IOException. */

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

final class Hub {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String url;
    private final String basicAuth;
    private String token;
    private long tokenExpiresAt;

    Hub(String url, String clientId, String clientSecret) {
        if (clientId == null || clientSecret == null) {
            throw new IllegalArgumentException("set PPH_CLIENT_ID and PPH_CLIENT_SECRET");
        }
        this.url = url.replaceAll("/+$", "");
        this.basicAuth = "Basic " + Base64.getEncoder().encodeToString(
                (clientId + ":" + clientSecret).getBytes(StandardCharsets.UTF_8));
    }

    private String token() throws IOException, InterruptedException {
        long now = System.currentTimeMillis() / 1000;
        if (token == null || now > tokenExpiresAt - 30) {
            JsonObject answer = send(HttpRequest.newBuilder(URI.create(url + "/oauth/token"))
                    .header("Authorization", basicAuth)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials")))
                    .getAsJsonObject();
            token = answer.get("access_token").getAsString();
            tokenExpiresAt = now + (answer.has("expires_in") ? answer.get("expires_in").getAsLong() : 60);
        }
        return token;
    }

    private HttpRequest.Builder authorised(String path) throws IOException, InterruptedException {
        return HttpRequest.newBuilder(URI.create(url + path))
                .header("Authorization", "Bearer " + token())
                .header("X-Purpose", "receiving disclosures");
    }

    /** 201 the first time, 200 when it was acknowledged already. */
    void acknowledge(String disclosureId) throws IOException, InterruptedException {
        send(authorised("/v1/disclosures/" + disclosureId + "/ack")
                .POST(HttpRequest.BodyPublishers.noBody()));
    }

    JsonObject feedPage(long after) throws IOException, InterruptedException {
        return send(authorised("/v1/feed?after=" + after).GET()).getAsJsonObject();
    }

    /** The hub's published Ed25519 keys (public: no token needed). */
    List<String> webhookKeys() throws IOException, InterruptedException {
        List<String> keys = new ArrayList<>();
        JsonObject answer = send(HttpRequest.newBuilder(URI.create(url + "/v1/webhook-keys")).GET())
                .getAsJsonObject();
        for (JsonElement key : answer.getAsJsonArray("keys")) {
            keys.add(key.getAsJsonObject().get("public_key").getAsString());
        }
        return keys;
    }

    private JsonElement send(HttpRequest.Builder request) throws IOException, InterruptedException {
        HttpResponse<String> answer = http.send(
                request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() / 100 != 2) {
            throw new IOException("the hub answered " + answer.statusCode() + ": " + answer.body());
        }
        return JsonParser.parseString(answer.body());
    }
}
