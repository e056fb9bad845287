"""EQ-1 Network Modbus: TCP, RTU and ASCII clients and servers on a sans-I/O codec."""
