/*
 * A Modbus server built on libmodbus, used by the tests as an independent peer.
 *
 *   libmodbus_server tcp PORT UNIT [SIZE]     PORT 0 picks a free port
 *   libmodbus_server rtu DEVICE UNIT [SIZE]   19200 8N1 on a serial device (a pty end)
 *
 * It prints "READY <port>" (TCP) or "READY <device>" (RTU) on standard output once it
 * listens, then serves requests until SIGTERM (default action: libmodbus retries
 * select() on EINTR, so a handler could not end a blocked wait). TCP: one connection at a time; when a
 * client leaves it accepts the next. The tables hold SIZE entries (100 by default)
 * filled from the unit id U (the same pattern the Python peers use, k = U - 1):
 *
 *   coils[i]             = (i + k) % 2 == 0
 *   discrete_inputs[i]   = (i + k) % 3 == 0
 *   holding_registers[i] = 10000 * k + i
 *   input_registers[i]   = 10000 * k + 1000 + i
 *
 * Exit status: 2 on bad arguments, 3 when the TCP port is taken (after printing
 * "BIND-FAILED"), 4 on any other error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

static void fill(modbus_mapping_t *map, int unit, int size) {
    int k = unit - 1;
    for (int i = 0; i < size; i++) {
        map->tab_bits[i] = ((i + k) % 2) == 0;
        map->tab_input_bits[i] = ((i + k) % 3) == 0;
        map->tab_registers[i] = (uint16_t)(10000 * k + i);
        map->tab_input_registers[i] = (uint16_t)(10000 * k + 1000 + i);
    }
}

/* Answer requests until the client closes the connection or it breaks. */
static void serve_connection(modbus_t *ctx, modbus_mapping_t *map) {
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    int rc;
    while ((rc = modbus_receive(ctx, query)) != -1) {
        if (rc > 0) {
            modbus_reply(ctx, query, rc, map);
        }
    }
}

static int run_tcp(int port, int unit, modbus_mapping_t *map) {
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    if (ctx == NULL) {
        fprintf(stderr, "modbus_new_tcp: %s\n", modbus_strerror(errno));
        return 4;
    }
    modbus_set_slave(ctx, unit);
    int server = modbus_tcp_listen(ctx, 1);
    if (server == -1) {
        int err = errno;
        fprintf(stderr, "modbus_tcp_listen: %s\n", modbus_strerror(err));
        if (err == EADDRINUSE) {
            printf("BIND-FAILED\n");
            fflush(stdout);
            return 3;
        }
        return 4;
    }
    struct sockaddr_in bound;
    socklen_t len = sizeof bound;
    if (getsockname(server, (struct sockaddr *)&bound, &len) == -1) {
        perror("getsockname");
        return 4;
    }
    printf("READY %d\n", ntohs(bound.sin_port));
    fflush(stdout);
    for (;;) {
        int client = server;
        if (modbus_tcp_accept(ctx, &client) == -1) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "modbus_tcp_accept: %s\n", modbus_strerror(errno));
            close(server);
            modbus_free(ctx);
            return 4;
        }
        serve_connection(ctx, map);
        modbus_close(ctx); /* closes the client socket, keeps the listener */
    }
}

static int run_rtu(const char *device, int unit, modbus_mapping_t *map) {
    modbus_t *ctx = modbus_new_rtu(device, 19200, 'N', 8, 1);
    if (ctx == NULL) {
        fprintf(stderr, "modbus_new_rtu: %s\n", modbus_strerror(errno));
        return 4;
    }
    modbus_set_slave(ctx, unit);
    if (modbus_connect(ctx) == -1) {
        fprintf(stderr, "modbus_connect %s: %s\n", device, modbus_strerror(errno));
        modbus_free(ctx);
        return 4;
    }
    printf("READY %s\n", device);
    fflush(stdout);
    uint8_t query[MODBUS_RTU_MAX_ADU_LENGTH];
    for (;;) {
        int rc = modbus_receive(ctx, query);
        if (rc > 0) {
            modbus_reply(ctx, query, rc, map);
        } else if (rc == -1 && (errno == EBADF || errno == EIO || errno == ENXIO)) {
            fprintf(stderr, "serial device lost: %s\n", modbus_strerror(errno));
            break;
        }
        /* rc == 0 (another unit) or a bad frame: keep serving */
    }
    modbus_close(ctx);
    modbus_free(ctx);
    return 4;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s tcp PORT UNIT [SIZE] | rtu DEVICE UNIT [SIZE]\n", argv[0]);
        return 2;
    }
    int unit = atoi(argv[3]);
    int size = argc == 5 ? atoi(argv[4]) : 100;
    if (unit < 1 || unit > 247 || size < 1 || size > 65536) {
        fprintf(stderr, "UNIT must be 1..247 and SIZE 1..65536\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    modbus_mapping_t *map = modbus_mapping_new(size, size, size, size);
    if (map == NULL) {
        fprintf(stderr, "modbus_mapping_new: %s\n", modbus_strerror(errno));
        return 4;
    }
    fill(map, unit, size);
    int rc;
    if (strcmp(argv[1], "tcp") == 0) {
        rc = run_tcp(atoi(argv[2]), unit, map);
    } else if (strcmp(argv[1], "rtu") == 0) {
        rc = run_rtu(argv[2], unit, map);
    } else {
        fprintf(stderr, "mode must be tcp or rtu, not %s\n", argv[1]);
        rc = 2;
    }
    modbus_mapping_free(map);
    return rc;
}
