// Checks for the `web` service, in C: build with ./build.sh, drop target/web.wasm (and
// target/web.toml) into the plugin directory.
//
// Three checks, as in ../python/web.py:
//   running  running pods out of all: green when all run, red otherwise
//   release  the raw value of `release` in the settings' [config]
//   version  GET http://<pod IP>:<port><path> on every pod, all at once (http.get-all):
//            green when all answer the same
//
// kube_shields.h (written with the bindings by build.sh) has the helpers used here
// (string_is, config_get, cstr, log_text, shield, raw) and what may be freed by whom;
// kube_shields.c turns the CHECKS table at the end into the plugin's exports.

#include <stdio.h>

#include "kube_shields.h"

// --- the checks ----------------------------------------------------------------------

static bool check_running(const context_t *ctx, outcome_t *ret, string_t *err) {
    (void)err;  // these checks never fail
    size_t total = ctx->pods.len, up = 0;
    for (size_t i = 0; i < total; i++) {
        up += string_is(&ctx->pods.ptr[i].phase, "Running");
    }
    // stdout goes to the kube-shields log (through WASI preview 1's fd_write).
    printf("running: %zu of %zu pods\n", up, total);
    if (total == 0) {
        shield(ret, "no pods", "lightgrey");
        return true;
    }
    char status[64];
    snprintf(status, sizeof status, "%zu/%zu running", up, total);
    shield(ret, status, up == total ? "green" : "red");
    return true;
}

static bool check_release(const context_t *ctx, outcome_t *ret, string_t *err) {
    (void)err;
    const string_t *release = config_get(ctx, "release");
    if (release == NULL) {
        raw(ret, "unknown", strlen("unknown"));
    } else {
        raw(ret, (const char *)release->ptr, release->len);
    }
    return true;
}

typedef kube_shields_plugin_http_result_response_http_error_t http_result_t;

// The trimmed body of a 200 answer from `pod`, malloc'ed, or NULL (logged why).
static char *pod_version(const kube_shields_plugin_types_pod_t *pod, const string_t *url,
                         const http_result_t *result) {
    char message[600];
    if (result->is_err) {
        const kube_shields_plugin_http_http_error_t *error = &result->val.err;
        const string_t *why = NULL;
        if (error->tag == KUBE_SHIELDS_PLUGIN_HTTP_HTTP_ERROR_DENIED) why = &error->val.denied;
        if (error->tag == KUBE_SHIELDS_PLUGIN_HTTP_HTTP_ERROR_FAILED) why = &error->val.failed;
        snprintf(message, sizeof message, "pod %.*s: %.*s: %.*s", (int)pod->name.len,
                 (const char *)pod->name.ptr, (int)url->len, (const char *)url->ptr,
                 why ? (int)why->len : 9, why ? (const char *)why->ptr : "no answer");
        log_text(KUBE_SHIELDS_PLUGIN_LOGGING_LEVEL_WARN, message);
        return NULL;
    }
    const kube_shields_plugin_http_response_t *response = &result->val.ok;
    if (response->status != 200) {
        snprintf(message, sizeof message, "pod %.*s: %.*s: HTTP %u", (int)pod->name.len,
                 (const char *)pod->name.ptr, (int)url->len, (const char *)url->ptr,
                 response->status);
        log_text(KUBE_SHIELDS_PLUGIN_LOGGING_LEVEL_WARN, message);
        return NULL;
    }
    size_t len = response->body.len;
    while (len > 0 && strchr(" \t\r\n", response->body.ptr[len - 1]) != NULL) len--;
    char *answer = malloc(len + 1);
    memcpy(answer, response->body.ptr, len);
    answer[len] = '\0';
    return answer;
}

static int compare_text(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool check_version(const context_t *ctx, outcome_t *ret, string_t *err) {
    (void)err;
    const string_t *port_value = config_get(ctx, "port");
    const string_t *path_value = config_get(ctx, "path");
    char *port = port_value ? cstr(port_value) : strdup("8080");
    char *path = path_value ? cstr(path_value) : strdup("/version");

    // One request per pod with an IP, all sent at once: the wait is the slowest pod's.
    size_t pods = ctx->pods.len, answered = 0;
    kube_shields_plugin_http_list_request_t requests = {
        calloc(pods + 1, sizeof(kube_shields_plugin_http_request_t)), 0};
    const kube_shields_plugin_types_pod_t **asked = calloc(pods + 1, sizeof *asked);
    for (size_t i = 0; i < pods; i++) {
        const kube_shields_plugin_types_pod_t *pod = &ctx->pods.ptr[i];
        if (!pod->pod_ip.is_some) continue;
        char *ip = cstr(&pod->pod_ip.val);
        bool v6 = strchr(ip, ':') != NULL;
        char url[512];
        snprintf(url, sizeof url, "http://%s%s%s:%s%s", v6 ? "[" : "", ip, v6 ? "]" : "",
                 port, path);
        free(ip);
        // malloc'ed: list_request_free below frees the URLs with the list.
        check_plugin_string_dup(&requests.ptr[requests.len].url, url);
        asked[requests.len++] = pod;
    }
    free(port);
    free(path);
    kube_shields_plugin_http_list_result_response_http_error_t results;
    kube_shields_plugin_http_get_all(&requests, &results);
    char **answers = calloc(results.len + 1, sizeof *answers);
    for (size_t i = 0; i < results.len; i++) {
        char *answer = pod_version(asked[i], &requests.ptr[i].url, &results.ptr[i]);
        if (answer != NULL) answers[answered++] = answer;
    }
    kube_shields_plugin_http_list_result_response_http_error_free(&results);
    // The generated free leaves an empty list's array alone.
    if (requests.len == 0) free(requests.ptr);
    else kube_shields_plugin_http_list_request_free(&requests);
    free(asked);

    if (answered == 0) {
        shield(ret, "no answer", "red");
    } else {
        // The distinct answers, sorted and joined with ", ".
        qsort(answers, answered, sizeof *answers, compare_text);
        size_t distinct = 0, room = 1;
        for (size_t i = 0; i < answered; i++) room += strlen(answers[i]) + 2;
        char *joined = calloc(room, 1);
        for (size_t i = 0; i < answered; i++) {
            if (i > 0 && strcmp(answers[i], answers[i - 1]) == 0) continue;
            if (distinct++ > 0) strcat(joined, ", ");
            strcat(joined, answers[i]);
        }
        bool same = distinct == 1 && answered == pods;
        shield(ret, joined, same ? "green" : "yellow");
        free(joined);
    }
    for (size_t i = 0; i < answered; i++) free(answers[i]);
    free(answers);
    return true;
}

// --- the checks this plugin offers, in order -------------------------------------------

const check_t CHECKS[] = {
    {"running", "Running pods out of all: green when all run, red otherwise.", check_running},
    {"release", "The release named in the settings' [config] (`release = \"...\"`).",
     check_release},
    {"version", "What each pod answers on http://<pod IP>:<port><path> (config `port`, `path`).",
     check_version},
};
const size_t CHECK_COUNT = sizeof CHECKS / sizeof CHECKS[0];
