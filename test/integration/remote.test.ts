import { useRemoteSandbox } from "../support/remote.js";
import { dockerApiTests } from "./remote/docker.js";
import { sshShellTests } from "./remote/ssh.js";

// One sandbox for both groups (starting one costs ~10 s); the tests live in remote/, one file each.
const env = useRemoteSandbox();
sshShellTests(env);
dockerApiTests(env);
