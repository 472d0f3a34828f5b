# A stand-in for the AWS Lambda Runtime API (version 2018-06-01) on a free
# loopback port, for testing `kairos lambda`. It hands out queued events to
# GET .../invocation/next, holding the request open while the queue is empty,
# and records what the function posts to .../response, .../error and
# .../init/error. It runs in the test's own process: the test calls
# wait_for(), which serves connections until a condition holds.
package FakeRuntime;

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

sub new {
    my ($class) = @_;
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        Listen    => 16,
        ReuseAddr => 1,
        Proto     => 'tcp',
    ) or die "fake runtime: listen on 127.0.0.1 failed: $!";
    my $self = bless {
        listen      => $listen,
        select      => IO::Select->new($listen),
        conns       => {},    # fileno => {sock, buf}
        waiting     => [],    # connections whose GET next waits for an event
        queue       => [],    # [id, event text]
        next_id     => 1,
        responses   => {},    # id => {body, time}
        errors      => {},    # id => {body, type, time}
        init_errors => [],    # {body, type, time}
        log         => [],    # "METHOD path" of every request, in order
    }, $class;
    return $self;
}

sub address {
    my ($self) = @_;
    return '127.0.0.1:' . $self->{listen}->sockport;
}

# Queues an event (JSON text, or anything else for malformed events) and
# returns the request id the function will see.
sub enqueue {
    my ($self, $event) = @_;
    my $id = sprintf('8476a536-e9f4-11e8-9739-%012d', $self->{next_id}++);
    push @{ $self->{queue} }, [ $id, $event ];
    $self->_hand_out;
    return $id;
}

sub response   { $_[0]{responses}{ $_[1] } }
sub error      { $_[0]{errors}{ $_[1] } }
sub init_error { $_[0]{init_errors}[0] }
sub requests   { @{ $_[0]{log} } }

# Serves until $done->() is true or $timeout seconds pass; returns whether
# $done became true.
sub wait_for {
    my ($self, $done, $timeout) = @_;
    my $deadline = time + $timeout;
    until ($done->()) {
        my $left = $deadline - time;
        return 0 if $left <= 0;
        for my $sock ($self->{select}->can_read($left < 0.2 ? $left : 0.2)) {
            if ($sock == $self->{listen}) {
                my $conn = $self->{listen}->accept or next;
                $self->{conns}{ fileno $conn } = { sock => $conn, buf => '' };
                $self->{select}->add($conn);
                next;
            }
            $self->_read($sock);
        }
    }
    return 1;
}

sub _close {
    my ($self, $sock) = @_;
    $self->{select}->remove($sock);
    delete $self->{conns}{ fileno $sock };
    $self->{waiting} = [ grep { $_ != $sock } @{ $self->{waiting} } ];
    close $sock;
}

sub _read {
    my ($self, $sock) = @_;
    my $conn = $self->{conns}{ fileno $sock };
    my $n = sysread $sock, my $chunk, 1 << 20;
    if (!$n) {
        $self->_close($sock);
        return;
    }
    $conn->{buf} .= $chunk;
    while ($conn->{buf} =~ /\A(.*?)\r\n\r\n/s) {
        my $head = $1;
        my ($method, $path) = $head =~ /\A(\S+) (\S+) HTTP/ or return $self->_close($sock);
        my %headers = map { /\A([^:]+):\s*(.*)\z/ ? (lc $1 => $2) : () } split /\r\n/, $head;
        my $length = $headers{'content-length'} // 0;
        my $start = length($head) + 4;
        return if length($conn->{buf}) < $start + $length;
        my $body = substr $conn->{buf}, $start, $length;
        substr($conn->{buf}, 0, $start + $length) = '';
        push @{ $self->{log} }, "$method $path";
        $self->_dispatch($sock, $method, $path, \%headers, $body);
    }
}

sub _dispatch {
    my ($self, $sock, $method, $path, $headers, $body) = @_;
    my $prefix = '/2018-06-01/runtime';
    my $record = { body => $body, type => $headers->{'lambda-runtime-function-error-type'}, time => time };

    if ($method eq 'GET' && $path eq "$prefix/invocation/next") {
        push @{ $self->{waiting} }, $sock;
        $self->_hand_out;
    } elsif ($method eq 'POST' && $path =~ m{\A\Q$prefix\E/invocation/([^/]+)/response\z}) {
        $self->{responses}{$1} = $record;
        _reply($sock, 202, '{"status":"OK"}');
    } elsif ($method eq 'POST' && $path =~ m{\A\Q$prefix\E/invocation/([^/]+)/error\z}) {
        $self->{errors}{$1} = $record;
        _reply($sock, 202, '{"status":"OK"}');
    } elsif ($method eq 'POST' && $path eq "$prefix/init/error") {
        push @{ $self->{init_errors} }, $record;
        _reply($sock, 202, '{"status":"OK"}');
    } else {
        _reply($sock, 404, '{"errorMessage":"unknown path","errorType":"InvalidRequest"}');
    }
}

# Answers waiting GET next requests with queued events, oldest first.
sub _hand_out {
    my ($self) = @_;
    while (@{ $self->{waiting} } && @{ $self->{queue} }) {
        my $sock = shift @{ $self->{waiting} };
        my ($id, $event) = @{ shift @{ $self->{queue} } };
        my $deadline = int((time + 30) * 1000);
        _reply($sock, 200, $event,
            "Lambda-Runtime-Aws-Request-Id: $id\r\n"
              . "Lambda-Runtime-Deadline-Ms: $deadline\r\n"
              . "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-2:000000000000:function:kairos\r\n"
              . "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n");
    }
}

sub _reply {
    my ($sock, $status, $body, $extra) = @_;
    $extra //= '';
    my $text = $status == 200 ? 'OK' : $status == 202 ? 'Accepted' : 'Not Found';
    my $out = "HTTP/1.1 $status $text\r\nContent-Type: application/json\r\n$extra"
      . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    local $SIG{PIPE} = 'IGNORE';
    while (length $out) {
        my $n = syswrite $sock, $out;
        return if !defined $n;
        substr($out, 0, $n) = '';
    }
}

1;
