package io.qingtian.hypervisor.api;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** An HTTP response of the API: a status and an optional JSON body. */
public record ApiResponse(int status, String json) {
    /** 204 No Content: how Firecracker answers every successful PUT and PATCH. */
    public static final ApiResponse NO_CONTENT = new ApiResponse(204, null);

    public static ApiResponse ok(String json) {
        return new ApiResponse(200, json);
    }

    /** Firecracker's error shape. */
    public static ApiResponse fault(int status, String message) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("fault_message", message);
        return new ApiResponse(status, o.toString());
    }
}
