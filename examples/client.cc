// The classic two-process pattern, client half: send each line typed on
// stdin to the server's queue.
#include <cstdio>
#include <iostream>
#include <string>

#include "ringbuf/queue.h"

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "ringbuf-demo";
  absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Open(name);
  if (!queue.ok()) {
    std::fprintf(stderr, "client: %s (is the server running?)\n",
                 queue.status().ToString().c_str());
    return 1;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    // Waits while the queue is full; gives up if the server is gone for 5 s.
    absl::Status s = queue->SendFor(line, absl::Seconds(5));
    if (!s.ok()) {
      std::fprintf(stderr, "client: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
