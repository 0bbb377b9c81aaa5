import { describeJobs } from "./jobs/job-contract.ts";

describeJobs("etcd");
