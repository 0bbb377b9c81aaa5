import { describeSavepoints } from "./streaming/savepoints.ts";

describeSavepoints("etcd");
