package io.qingtian.hypervisor.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input over the real socket: every case is a 400 with a fault_message that says what is
 * wrong, and afterwards the instance is exactly as before (Not started, default machine, no
 * boot source).
 */
class ApiBadInputTest {
    @TempDir
    Path dir;
    ApiFixture api;
    Path kernel;

    @BeforeEach
    void start() throws Exception {
        api = new ApiFixture(dir.resolve("api.sock"));
        kernel = Files.write(dir.resolve("vmlinuz"), new byte[] {1, 2, 3});
    }

    @AfterEach
    void stop() throws Exception {
        api.close();
    }

    record Case(String method, String path, String body, String fragment) {}

    @Test
    void everyBadRequestIsA400AndChangesNothing() throws Exception {
        String k = kernel.toString();
        List<Case> cases = List.of(
                new Case("PUT", "/machine-config", "{", "malformed JSON"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256} x", "malformed JSON"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256,\"bogus\":1}", "unknown field 'bogus'"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":256}", "allowed 1 to 32"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":33,\"mem_size_mib\":256}", "allowed 1 to 32"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":\"2\",\"mem_size_mib\":256}", "must be an integer"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2.5,\"mem_size_mib\":256}", "must be an integer"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":0}", "allowed 1 to"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":8}", "memory too small"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":99999999999}", "memory too large"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2}", "missing required field 'mem_size_mib'"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256,\"vcpu_count\":3}", "malformed JSON"),
                new Case("PUT", "/machine-config", "[]", "must be a JSON object"),
                new Case("PUT", "/machine-config", null, "needs a JSON body"),
                new Case("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256,\"huge_pages\":\"1G\"}", "allowed"),
                new Case("PUT", "/boot-source", "{\"kernel_image_path\":\"/nonexistent/vmlinuz\"}", "does not exist"),
                new Case("PUT", "/boot-source", "{}", "missing required field 'kernel_image_path'"),
                new Case("PUT", "/boot-source", "{\"kernel_image_path\":\"" + k + "\",\"boot_args\":\"a\\u0001\"}", "printable ASCII"),
                new Case("PUT", "/boot-source", "{\"kernel_image_path\":\"" + k + "\",\"initrd_path\":\"/nonexistent\"}", "does not exist"),
                new Case("PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"is_root_device\":true,\"path_on_host\":\"/x.img\"}",
                        "the card serves disks"),
                new Case("PUT", "/drives/rootfs", "{\"drive_id\":\"other\",\"is_root_device\":true,\"socket\":\"/s\"}", "does not match"),
                new Case("PUT", "/drives/bad-id!", "{\"drive_id\":\"bad-id!\",\"is_root_device\":true,\"socket\":\"/s\"}", "invalid path id"),
                new Case("PUT", "/drives/d", "{\"drive_id\":\"d\",\"is_root_device\":true}", "missing 'socket'"),
                new Case("PUT", "/drives/d", "{\"drive_id\":\"d\",\"socket\":\"/s\"}", "missing required field 'is_root_device'"),
                new Case("PUT", "/drives/d", "{\"drive_id\":\"d\",\"is_root_device\":\"yes\",\"socket\":\"/s\"}", "true or false"),
                new Case("PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}", "TAP"),
                new Case("PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"/s\",\"guest_mac\":\"zz\"}", "mac"),
                new Case("PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"/s\",\"mtu\":10}", "allowed 68 to 65535"),
                new Case("PUT", "/actions", "{\"action_type\":\"Reboot\"}", "allowed"),
                new Case("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", "no boot source"),
                new Case("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", "not started"),
                new Case("PATCH", "/vm", "{\"state\":\"Paused\"}", "has not started"),
                new Case("PATCH", "/vm", "{\"state\":\"Resumed\"}", "has not started"),
                new Case("PATCH", "/vm", "{\"state\":\"Running\"}", "allowed"),
                new Case("PUT", "/snapshot/create", "{\"snapshot_path\":\"" + dir.resolve("s") + "\",\"mem_file_path\":\""
                        + dir.resolve("m") + "\"}", "must be paused"),
                new Case("PUT", "/snapshot/create", "{\"snapshot_path\":\"/a\",\"mem_file_path\":\"/b\",\"snapshot_type\":\"Diff\"}", "Diff"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/nonexistent\",\"mem_file_path\":\"/nonexistent\"}", "does not exist"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/x\"}", "one of mem_file_path or mem_backend"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/x\",\"mem_file_path\":\"/y\",\"mem_backend\":"
                        + "{\"backend_type\":\"File\",\"backend_path\":\"/y\"}}", "not both"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/x\",\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"/y\"}}",
                        "Uffd"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/x\",\"mem_file_path\":\"/y\",\"network_overrides\":7}",
                        "must be an array"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/x\",\"mem_file_path\":\"/y\",\"network_overrides\":"
                        + "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}]}", "no TAP devices"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/x\",\"mem_file_path\":\"/y\",\"network_overrides\":"
                        + "[{\"iface_id\":\"eth 0\",\"host_dev_name\":\"/s\"}]}", "invalid network_overrides iface_id"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/x\",\"mem_file_path\":\"/y\",\"drive_overrides\":"
                        + "[{\"drive_id\":\"rootfs\"}]}", "missing required field 'socket'"),
                new Case("PUT", "/snapshot/load", "{\"snapshot_path\":\"/nonexistent\",\"mem_file_path\":\"/y\",\"network_overrides\":"
                        + "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"/s\"}]}", "does not exist"),
                new Case("DELETE", "/", null, "not supported"),
                new Case("GET", "/nope", null, "invalid request method and/or path"),
                new Case("PUT", "/", "{}", "not supported"));
        for (Case c : cases) {
            api.fault(c.method(), c.path(), c.body(), c.fragment());
            assertUnchanged();
        }
        assertThat(Files.exists(dir.resolve("s"))).isFalse();
    }

    @Test
    void malformedHttpIsA400AndTheServerKeepsServing() throws Exception {
        for (String raw : List.of("PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "PUT /machine-config HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n",
                "PUT /machine-config HTTP/1.1\r\nContent-Length: nine\r\n\r\n",
                "GARBAGE\r\n\r\n")) {
            try (UnixHttp c = new UnixHttp(api.server.socketPath())) {
                UnixHttp.Reply r = c.sendRaw(raw.getBytes(StandardCharsets.US_ASCII), new byte[0]);
                assertThat(r.status()).as(raw).isEqualTo(400);
                assertThat(ApiFixture.JSON.readTree(r.body()).get("fault_message").asText()).isNotBlank();
            }
        }
        assertUnchanged();
    }

    @Test
    void goodConfigurationIsAcceptedAndReported() throws Exception {
        api.ok("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,\"huge_pages\":\"None\"}");
        api.ok("PUT", "/boot-source", "{\"kernel_image_path\":\"" + kernel + "\",\"boot_args\":\"console=ttyS0\"}");
        api.ok("PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"is_root_device\":true,\"socket\":\"" + dir.resolve("blk.sock") + "\"}");
        api.ok("PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"" + dir.resolve("net.sock")
                + "\",\"guest_mac\":\"06:00:ac:10:00:02\"}");
        UnixHttp.Reply mc = api.call("GET", "/machine-config", null);
        assertThat(mc.status()).isEqualTo(200);
        assertThat(ApiFixture.JSON.readTree(mc.body()).get("vcpu_count").asInt()).isEqualTo(2);
        assertThat(ApiFixture.JSON.readTree(mc.body()).get("mem_size_mib").asInt()).isEqualTo(256);
        UnixHttp.Reply info = api.call("GET", "/", null);
        assertThat(ApiFixture.JSON.readTree(info.body()).get("id").asText()).isEqualTo("test-vm");
        assertThat(ApiFixture.JSON.readTree(info.body()).get("app_name").asText()).isEqualTo("QingTian-J");
        assertThat(api.state()).isEqualTo("Not started");
        // A refused request after good ones leaves the good configuration in place.
        api.fault("PUT", "/machine-config", "{\"vcpu_count\":40,\"mem_size_mib\":512}", "allowed 1 to 32");
        assertThat(ApiFixture.JSON.readTree(api.call("GET", "/machine-config", null).body()).get("mem_size_mib").asInt())
                .isEqualTo(256);
    }

    private void assertUnchanged() throws Exception {
        assertThat(api.state()).isEqualTo("Not started");
        UnixHttp.Reply mc = api.call("GET", "/machine-config", null);
        assertThat(mc.status()).isEqualTo(200);
        assertThat(ApiFixture.JSON.readTree(mc.body()).get("vcpu_count").asInt()).isEqualTo(1);
        assertThat(ApiFixture.JSON.readTree(mc.body()).get("mem_size_mib").asInt()).isEqualTo(128);
        assertThat(api.vmm.vm()).isNull();
    }
}
