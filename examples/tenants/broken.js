// A tenant whose handler throws: the client gets a plain 500 "exception",
// the stack goes to nginx's error_log tagged "demo/broken".
export default {
  fetch() {
    throw new Error("this tenant has a bug");
  },
};
