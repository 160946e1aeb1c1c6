package io.qingtian.card.control;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlProtocolTest {
    @TempDir
    Path tmp;

    @Test
    void malformedRequestsGetAnErrorAndTheConnectionStaysUsable() throws Exception {
        Path state = tmp.resolve("state");
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser());
                ControlClient c = ControlClient.connect(state)) {
            for (String bad : List.of("not json", "{}", "{\"op\":\"volume.explode\"}", "[1,2]", "null",
                    "{\"op\":\"volume.delete\",\"name\":\"x\",\"extra\":1}",
                    "{\"op\":\"volume.resize\",\"name\":\"x\",\"sizeBytes\":null}",
                    "{\"op\":\"volume.create\"}", "{\"op\":\"volume.list\"} trailing",
                    "{\"op\":\"volume.export\",\"name\":\"x\",\"socket\":\"relative.sock\",\"queues\":1,\"readOnly\":false}")) {
                String reply = c.rawCall(bad);
                assertThat(reply).as(bad).startsWith("{\"status\":\"error\"");
            }
            assertThat(c.call(new ControlRequest.ListVolumes())).isEqualTo(new ControlResponse.Volumes(List.of()));
        }
    }

    @Test
    void overLongRequestClosesOnlyThatConnection() throws Exception {
        Path state = tmp.resolve("state");
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            String huge = "{\"op\":\"volume.delete\",\"name\":\"" + "x".repeat(2 << 20) + "\"}";
            try (ControlClient c = ControlClient.connect(state)) {
                // The card answers after 1 MiB and hangs up; the client may still be writing (EPIPE).
                String reply;
                try {
                    reply = c.rawCall(huge);
                } catch (java.io.IOException e) {
                    reply = "closed: " + e.getMessage();
                }
                assertThat(reply).containsAnyOf("longer than", "closed:");
            }
            try (ControlClient c = ControlClient.connect(state)) {
                assertThat(c.call(new ControlRequest.ListVolumes())).isEqualTo(new ControlResponse.Volumes(List.of()));
            }
        }
    }

    @Test
    void requestsAndResponsesRoundTripThroughJson() throws Exception {
        var mapper = io.qingtian.card.fs.Json.MAPPER;
        List<ControlRequest> all = List.of(new ControlRequest.Status(),
                new ControlRequest.CreateVolume("v", 512L, true, "AAAA", 1L, 2L, 3L, 4L, "h:1/e"),
                new ControlRequest.ListVolumes(), new ControlRequest.ResizeVolume("v", 1024),
                new ControlRequest.DeleteVolume("v"), new ControlRequest.ExportVolume("v", "/s", 2, true),
                new ControlRequest.UnexportVolume("v"), new ControlRequest.ImportVolume("v", "/f"));
        for (ControlRequest r : all) {
            String json = mapper.writeValueAsString(r);
            assertThat(mapper.readValue(json, ControlRequest.class)).as(json).isEqualTo(r);
        }
        ControlResponse v = new ControlResponse.Volumes(List.of(new io.qingtian.card.volume.VolumeInfo("v", 512, "file", true, 0, 0, "s", null)));
        assertThat(mapper.readValue(mapper.writeValueAsString(v), ControlResponse.class)).isEqualTo(v);
    }
}
