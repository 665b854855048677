/*
 * sdbus-ping: the round trips of BenchmarkRoundTripFromC, measured by a C
 * client on sd-bus so that no Go runtime takes part on the client side.
 *
 *   sdbus-ping serve ADDRESS
 *     connects, prints its unique name and answers until killed: sd-bus
 *     itself answers org.freedesktop.DBus.Peer.Ping, so this is the
 *     leanest service a bus can carry.
 *   sdbus-ping bench ADDRESS PEER DAEMON N
 *     makes N rounds of four calls in turn: Peer.Ping to the bus, to PEER,
 *     to DAEMON, and DAEMON's GetStatus; prints the mean ns of each.
 *
 * Build: gcc -O2 -o sdbus-ping sdbus-ping.c -lsystemd (Debian: libsystemd-dev).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-bus.h>

static sd_bus *connect_to(const char *address) {
	sd_bus *bus = NULL;
	int r = sd_bus_new(&bus);
	if (r >= 0) r = sd_bus_set_address(bus, address);
	if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0) r = sd_bus_start(bus);
	if (r < 0) {
		fprintf(stderr, "sdbus-ping: connecting to %s: %s\n", address, strerror(-r));
		exit(1);
	}
	return bus;
}

static double now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* call makes one call and returns how long it took, in ns. */
static double call(sd_bus *bus, const char *dest, const char *path, const char *iface, const char *member) {
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	double t0 = now_ns();
	if (sd_bus_call_method(bus, dest, path, iface, member, &error, &reply, "") < 0) {
		fprintf(stderr, "sdbus-ping: %s.%s on %s: %s\n", iface, member, dest, error.message);
		exit(1);
	}
	double t = now_ns() - t0;
	sd_bus_message_unref(reply);
	return t;
}

int main(int argc, char **argv) {
	if (argc == 3 && strcmp(argv[1], "serve") == 0) {
		sd_bus *bus = connect_to(argv[2]);
		const char *name = NULL;
		sd_bus_get_unique_name(bus, &name);
		printf("%s\n", name);
		fflush(stdout);
		for (;;) {
			int r = sd_bus_process(bus, NULL);
			if (r < 0)
				return 0;
			if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
				return 0;
		}
	}
	if (argc == 6 && strcmp(argv[1], "bench") == 0) {
		sd_bus *bus = connect_to(argv[2]);
		const char *peer = argv[3], *daemon = argv[4];
		long n = atol(argv[5]);
		double bus_ping = 0, peer_ping = 0, daemon_ping = 0, status = 0;
		for (long i = 0; i < n; i++) {
			bus_ping += call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Peer", "Ping");
			peer_ping += call(bus, peer, "/", "org.freedesktop.DBus.Peer", "Ping");
			daemon_ping += call(bus, daemon, "/org/luminous/Healing", "org.freedesktop.DBus.Peer", "Ping");
			status += call(bus, daemon, "/org/luminous/Healing", "org.luminous.Healing1", "GetStatus");
		}
		printf("%.0f %.0f %.0f %.0f\n", bus_ping / n, peer_ping / n, daemon_ping / n, status / n);
		return 0;
	}
	fprintf(stderr, "usage: sdbus-ping serve ADDRESS | sdbus-ping bench ADDRESS PEER DAEMON N\n");
	return 2;
}
