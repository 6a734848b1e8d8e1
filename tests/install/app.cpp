// The installed C++ wrapper (negsync.hpp), built by tests/install/run.sh through CMake.
#include <negsync.hpp>

#include <cstdio>

int main() {
    negsync::ItemSet mine, theirs;
    mine.insert(1, negsync::id_for_key("only-mine"));
    theirs.insert(2, negsync::id_for_key("only-theirs"));
    negsync::Session initiator(mine), responder(theirs);
    negsync::Bytes message = initiator.initiate();
    for (bool complete = false; !complete;) {
        const negsync::Session::Step step = initiator.reconcile(responder.reconcile(message).message);
        message = step.message;
        complete = step.complete;
    }
    std::printf("negsync %s: have %zu, need %zu\n", negsync::version(), initiator.have_ids().size(),
                initiator.need_ids().size());
    return initiator.have_ids().size() == 1 && initiator.need_ids().size() == 1 ? 0 : 1;
}
