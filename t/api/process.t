# The process model: a killed worker is replaced, SIGHUP replaces the workers
# without a failed request, SIGTERM stops everything with exit status 0.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use HTTP::Tiny;
use IO::Socket::INET;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep time);
use KairosTest qw(start_server);

plan skip_all => 'needs Linux /proc' unless -r '/proc/self/stat';

# Pids of the direct children of $parent.
sub children_of {
    my ($parent) = @_;
    my @children;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        # The command name is in parentheses and may hold spaces; the ppid follows the state.
        my ($pid, $ppid) = $line =~ /\A(\d+) \(.*\) \S+ (\d+) /s or next;
        push @children, $pid + 0 if $ppid == $parent;
    }
    return sort { $a <=> $b } @children;
}

# Inode of the socket listening on 127.0.0.1:$port.
sub listen_inode {
    my ($port) = @_;
    my $hex_port = sprintf '%04X', $port;
    open my $fh, '<', '/proc/net/tcp' or return;
    while (my $line = <$fh>) {
        my @fields = split ' ', $line;
        next unless ($fields[1] // '') =~ /:$hex_port\z/ && ($fields[3] // '') eq '0A';
        return $fields[9];
    }
    return;
}

# The children of the server that hold its listening socket: the workers.
sub workers_of {
    my ($srv) = @_;
    my $inode = listen_inode($srv->port) // return;
    my @workers;
    for my $pid (children_of($srv->pid)) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $target = readlink($fd) // next;
            if ($target eq "socket:[$inode]") {
                push @workers, $pid;
                last;
            }
        }
    }
    return @workers;
}

# Forks a client that sends GET /api/v1/users/me for $seconds, each request on
# a new connection, and returns its pid; the child writes "ok failed" counts
# and the status of its last request to $report.
sub start_request_loop {
    my ($srv, $token, $seconds, $report) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    return $pid if $pid;

    my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 0);
    my ($ok, $failed, $last) = (0, 0, 0);
    my @failures;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        my $res = $http->get($srv->base_url . '/api/v1/users/me', { headers => { Authorization => "Bearer $token" } });
        $last = $res->{status};
        if ($last == 200) {
            $ok++;
        } else {
            $failed++;
            push @failures, "$last " . substr($res->{content} // '', 0, 80) =~ s/\s+/ /gr if @failures < 5;
        }
    }
    open my $fh, '>', $report or _exit(2);
    print {$fh} "$ok $failed $last\n", map { "$_\n" } @failures;
    close $fh;
    _exit(0);
}

sub read_report {
    my ($report) = @_;
    open my $fh, '<', $report or return (0, -1, 0);
    my ($counts, @failures) = <$fh>;
    chomp @failures;
    return (split(' ', $counts // '0 -1 0'), @failures);
}

sub wait_until {
    my ($seconds, $check) = @_;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        return 1 if $check->();
        sleep 0.1;
    }
    return 0;
}

my $srv = start_server(workers => 2);
my $rider = $srv->new_rider(name => 'Process');

my @workers = workers_of($srv);
is scalar(@workers), 2, 'two workers hold the listening socket' or diag 'children: ' . join ' ', children_of($srv->pid);

subtest 'a killed worker is replaced' => sub {
    my $report = $srv->dir . '/kill-loop.txt';
    my $loop = start_request_loop($srv, $rider->{access}, 2, $report);
    sleep 0.5;
    my $victim = $workers[0];
    ok kill('KILL', $victim), "sent SIGKILL to worker $victim";
    waitpid $loop, 0;
    my ($ok, $failed, $last, @failures) = read_report($report);
    note "request loop: $ok answered 200, $failed failed";
    ok $ok > 20, 'the request loop ran';
    ok $failed <= 1, 'at most the request in flight on the killed worker failed' or diag join "\n", @failures;
    is $last, 200, 'the server still answers 200 after the kill';

    ok wait_until(5, sub { my @now = workers_of($srv); @now == 2 && !grep { $_ == $victim } @now }),
        'a new worker replaces the killed one';
    my $line = $srv->wait_log(qr/^.*(?:SIGKILL|signal 9\b).*$/m, 5);
    ok $line, 'the log names the signal';
    like $line // '', qr/\b$victim\b/, 'the log line names the killed worker';
};

subtest 'SIGHUP replaces the workers without a failed request' => sub {
    my @before = workers_of($srv);
    my $report = $srv->dir . '/hup-loop.txt';
    my $loop = start_request_loop($srv, $rider->{access}, 3, $report);
    sleep 0.5;
    ok kill('HUP', $srv->pid), 'sent SIGHUP to the server';
    waitpid $loop, 0;
    my ($ok, $failed, $last, @failures) = read_report($report);
    note "request loop: $ok answered 200, $failed failed";
    ok $ok > 20, 'the request loop ran';
    is $failed, 0, 'no request failed during the reload' or diag join "\n", @failures;

    ok wait_until(5, sub {
        my @now = workers_of($srv);
        my %old = map { $_ => 1 } @before;
        @now == 2 && !grep { $old{$_} } @now;
    }), 'both workers were replaced';
    my ($status) = $srv->request(GET => '/users/me', token => $rider->{access});
    is $status, 200, 'the server answers after the reload';
};

subtest 'SIGTERM stops the server' => sub {
    my @children = children_of($srv->pid);
    ok scalar(@children), 'the server has child processes';
    is $srv->stop, 0, 'server exits 0 on SIGTERM';
    ok wait_until(5, sub { !grep { kill 0, $_ } @children }), 'no child process outlives the server';
    my $refused = !IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $srv->port, Timeout => 1);
    ok $refused, 'the port is closed';
};

done_testing;
