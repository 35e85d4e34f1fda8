# user_fault_children: init is fault_children, which spawns every fault_<kind>
# program (the CAPOS_FAULT_KINDS of user/tests/CMakeLists.txt) as a child with
# copies of its console and VirtualMemory, and checks how each one ended.
@0xffe69c70e777ddc6;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "fault_children", path = "bin/fault_children"),
    (name = "fault_pf_null", path = "bin/fault_pf_null"),
    (name = "fault_pf_kernel", path = "bin/fault_pf_kernel"),
    (name = "fault_pf_write_rodata", path = "bin/fault_pf_write_rodata"),
    (name = "fault_pf_write_protected", path = "bin/fault_pf_write_protected"),
    (name = "fault_pf_exec_data", path = "bin/fault_pf_exec_data"),
    (name = "fault_pf_stack_overflow", path = "bin/fault_pf_stack_overflow"),
    (name = "fault_gp_hlt", path = "bin/fault_gp_hlt"),
    (name = "fault_gp_cli", path = "bin/fault_gp_cli"),
    (name = "fault_gp_port_io", path = "bin/fault_gp_port_io"),
    (name = "fault_gp_noncanonical", path = "bin/fault_gp_noncanonical"),
    (name = "fault_gp_int80", path = "bin/fault_gp_int80"),
    (name = "fault_ud", path = "bin/fault_ud"),
    (name = "fault_de", path = "bin/fault_de"),
    (name = "fault_db_trap_flag", path = "bin/fault_db_trap_flag"),
    (name = "fault_bp", path = "bin/fault_bp"),
    (name = "fault_mf", path = "bin/fault_mf"),
  ],
  init = (
    program = "fault_children",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
  ),
);
